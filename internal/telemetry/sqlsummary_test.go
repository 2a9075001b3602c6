package telemetry

import "testing"

func TestSummarise(t *testing.T) {
	for _, c := range []struct{ sql, op, summary string }{
		{"SELECT sparc_key_used($1)", "SELECT", "SELECT sparc_key_used"},
		{"SELECT id::text, role FROM sparc_key_lookup($1)", "SELECT", "SELECT sparc_key_lookup"},
		{"\nINSERT INTO assets (kind, name)\nVALUES ($1, $2)", "INSERT", "INSERT assets"},
		{"update referrals SET status = $2 WHERE id = $1", "UPDATE", "UPDATE referrals"},
		{"DELETE FROM webhook_deliveries WHERE id = $1", "DELETE", "DELETE webhook_deliveries"},
		// The table outside parentheses comes before a subquery's.
		{"SELECT a.id, ARRAY(SELECT x FROM jsonb_array_elements(a.sessions)) FROM assets a", "SELECT", "SELECT assets"},
		{"SELECT * FROM (SELECT id FROM people) p", "SELECT", "SELECT people"},
		// A CTE list is named by its first write.
		{"WITH p AS (SELECT id FROM people WHERE id = $1), ins AS (INSERT INTO referrals (id) SELECT id FROM p) SELECT 1", "WITH", "WITH INSERT referrals"},
		{"WITH r AS (SELECT referring_org FROM referrals) SELECT * FROM r", "WITH", "WITH r"},
		{`SET ROLE "sparc_app"`, "SET", "SET"},
		{"begin isolation level serializable", "BEGIN", "BEGIN"},
		{"commit", "COMMIT", "COMMIT"},
		{"", "", ""},
		// Constants and comments never reach a summary.
		{"-- Zebedee\nSELECT 'Zebedee Quillfeather' AS n, $1 FROM /* 9434765919 */ people", "SELECT", "SELECT people"},
		{"SELECT 'it''s FROM secret' FROM people", "SELECT", "SELECT people"},
	} {
		op, summary := summarise(c.sql)
		if op != c.op || summary != c.summary {
			t.Errorf("summarise(%q) = %q, %q; want %q, %q", c.sql, op, summary, c.op, c.summary)
		}
	}
}
