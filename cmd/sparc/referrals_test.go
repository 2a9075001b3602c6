package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The closed loop from the shell: a link worker records a person and
// refers them, the group accepts and records attendance, the link worker
// records the follow-up and reads the figures; a watcher sees each change.
func TestReferralLoopFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	lwOrg := env.NewOrg(t, "Ladywood link workers", "link_worker_service")
	groupOrg := env.NewOrg(t, "Saltley walking group", "community_group")
	lw := target{addr: env.Server.GRPCAddr(), key: env.Key(t, lwOrg, auth.RoleLinkWorker)}
	group := target{addr: env.Server.GRPCAddr(), key: env.Key(t, groupOrg, auth.RoleGroupEditor)}
	asset, err := env.AssetsOf(t, groupOrg).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Saltley walking group", AcceptingReferrals: true,
		Capacity: proto.Int32(10), OwnerOrganisation: "organisations/" + groupOrg,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}

	person := decode(t, mustSparc(t, lw, "people", "create", "--name", "A. K.", "--age-band", "65-74", "--postcode", "B8 1AA",
		"--contact-method", "phone", "--phone", "0121 496 0000", "--nhs-number", "943 476 5919", "--what-matters", "Getting out",
		"--need", "social_connection", "--consent", "basic,contact", "-o", "json"), &sparcv1.Person{})
	if person.GetNhsNumber() != "9434765919" || person.GetContact().GetPhone() != "0121 496 0000" || len(person.GetConsent().GetScopes()) != 2 {
		t.Fatalf("person %v", person)
	}
	if out := mustSparc(t, lw, "people", "get", person.GetName()); !strings.Contains(out, "shares basic,contact since") || !strings.Contains(out, "9434765919") {
		t.Fatalf("people get:\n%s", out)
	}

	r := decode(t, mustSparc(t, lw, "referrals", "create", "--person", person.GetName(), "--asset", asset.GetName(),
		"--reason", "social_connection", "--note", "Prefers mornings", "--request-id", "cli-1", "-o", "json"), &sparcv1.Referral{})
	if r.GetStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED {
		t.Fatalf("created %v", r)
	}
	// The same request id again is the same referral, the person given
	// by name or by bare id.
	bareID := strings.TrimPrefix(person.GetName(), "people/")
	again := decode(t, mustSparc(t, lw, "referrals", "create", "--person", bareID, "--asset", asset.GetName(),
		"--reason", "social_connection", "--note", "Prefers mornings", "--request-id", "cli-1", "-o", "json"), &sparcv1.Referral{})
	if again.GetName() != r.GetName() || !strings.HasPrefix(r.GetName(), "referrals/") {
		t.Fatalf("retry made %s, first was %s", again.GetName(), r.GetName())
	}

	// The group's inbox lists it with the consented name, not the NHS number.
	inbox := mustSparc(t, group, "referrals", "list", "--side", "providing")
	rows := tableRows(t, inbox)
	if len(rows) != 1 || rows[0]["NAME"] != r.GetName() || rows[0]["STATUS"] != "requested" || rows[0]["PERSON"] != "A. K." {
		t.Fatalf("inbox:\n%s", inbox)
	}
	if out := mustSparc(t, group, "referrals", "get", r.GetName()); strings.Contains(out, "9434765919") || !strings.Contains(out, "0121 496 0000") {
		t.Fatalf("provider view:\n%s", out)
	}
	// It reads with names: the asset's and the organisations'.
	if out := mustSparc(t, group, "referrals", "get", r.GetName()); !strings.Contains(out, "Saltley walking group ("+asset.GetName()+")") ||
		!strings.Contains(out, "Ladywood link workers (organisations/"+lwOrg+")") {
		t.Fatalf("provider view without names:\n%s", out)
	}

	// A move the provider may not make is refused with the allowed ones.
	bad := sparc(t, group, "referrals", "transition", r.GetName(), "--to", "completed")
	if bad.code != exitFailure || !strings.Contains(bad.stderr, "FAILED_PRECONDITION") || !strings.Contains(bad.stderr, "allowed now: accepted, cancelled, rejected") {
		t.Fatalf("exit %d, stderr:\n%s", bad.code, bad.stderr)
	}
	noReason := sparc(t, group, "referrals", "transition", strings.TrimPrefix(r.GetName(), "referrals/"), "--to", "rejected")
	if noReason.code != exitFailure || !strings.Contains(noReason.stderr, "reason: moving to rejected needs a reason, one of: no_capacity") {
		t.Fatalf("reject without a reason: exit %d, stderr:\n%s", noReason.code, noReason.stderr)
	}
	accepted := mustSparc(t, group, "referrals", "transition", r.GetName(), "--to", "accepted", "--note", "See you Tuesday")
	if !regexp.MustCompile(`STATUS\s+accepted\n`).MatchString(accepted) || !strings.Contains(accepted, "requested → accepted") {
		t.Fatalf("accept:\n%s", accepted)
	}
	mustSparc(t, lw, "referrals", "outcome", r.GetName(), "--baseline-ons4", "4,5,4,7", "--baseline-swemwbs", "2,2,3,2,2,3,2")
	mustSparc(t, group, "referrals", "outcome", r.GetName(), "--sessions", "3")
	done := decode(t, mustSparc(t, lw, "referrals", "outcome", r.GetName(), "--followup-ons4", "7,7,6,4",
		"--followup-swemwbs", "3,4,3,3,4,3,3", "--what-changed", "Walks twice a week", "-o", "json"), &sparcv1.Referral{})
	if done.GetOutcome().GetSessionsAttended() != 3 || done.GetOutcome().GetFollowUp().GetOns4()[0] != 7 || len(done.GetTimeline()) != 5 {
		t.Fatalf("outcome %v with %d events", done.GetOutcome(), len(done.GetTimeline()))
	}

	stats := mustSparc(t, lw, "referrals", "stats")
	for _, want := range []string{`TOTAL\s+1\n`, `accepted\s+1\n`, `SWEMWBS CHANGE\s+\+7\.00 \(n 1\)`, `ONS4 CHANGE life satisfaction\s+\+3\.00 \(n 1\)`} {
		if !regexp.MustCompile(want).MatchString(stats) {
			t.Errorf("own stats lack %q:\n%s", want, stats)
		}
	}
	// Another organisation's figures cover whole months that have ended:
	// today's referral is not in them yet, and the window says so.
	monthStart := time.Now().UTC().Format("2006-01") + "-01T00:00:00Z"
	if other := mustSparc(t, group, "referrals", "stats", "--org", lwOrg); !regexp.MustCompile(`WINDOW\s+.* to `+monthStart+`\n`).MatchString(other) ||
		!regexp.MustCompile(`TOTAL\s+0\n`).MatchString(other) || !strings.Contains(other, "rounded to the nearest 5") {
		t.Errorf("the group's view of the link workers' figures is not limited to ended months and suppressed:\n%s", other)
	}

	// The watcher gets the changes as JSON lines and a cursor to resume.
	w := sparc(t, group, "referrals", "watch", "--count", "2", "-o", "json")
	if w.code != 0 {
		t.Fatalf("watch: exit %d\n%s", w.code, w.stderr)
	}
	lines := strings.Split(strings.TrimSpace(w.stdout), "\n")
	var first, second sparcv1.ReferralChange
	if len(lines) != 2 {
		t.Fatalf("watch printed %d lines:\n%s", len(lines), w.stdout)
	}
	decode(t, lines[0], &first)
	decode(t, lines[1], &second)
	if first.GetType() != "created" || second.GetToStatus() != sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED ||
		!strings.Contains(w.stderr, "resume with: --cursor "+second.GetCursor()) {
		t.Fatalf("watch:\n%s\n%s", w.stdout, w.stderr)
	}
	resumed := mustSparc(t, group, "referrals", "watch", "--cursor", second.GetCursor(), "--count", "1", "-o", "json")
	var third map[string]any
	if err := json.Unmarshal([]byte(resumed), &third); err != nil || third["type"] != "outcome_recorded" {
		t.Fatalf("resumed watch: %v\n%s", err, resumed)
	}

	// Objection: the group sees nothing personal any more.
	mustSparc(t, lw, "people", "object", bareID)
	if out := mustSparc(t, group, "referrals", "get", strings.TrimPrefix(r.GetName(), "referrals/")); strings.Contains(out, "A. K.") || strings.Contains(out, "0121") || strings.Contains(out, "Prefers mornings") {
		t.Fatalf("after objection the provider sees:\n%s", out)
	}
	updated := decode(t, mustSparc(t, lw, "people", "update", person.GetName(), "--consent", "basic", "-o", "json"), &sparcv1.Person{})
	if updated.GetConsent().GetObjectionTime() != nil || !updated.GetConsent().GetShareWithProvider() {
		t.Fatalf("consent given again: %v", updated.GetConsent())
	}
}

func TestBadReferralCommandLinesFailBeforeCallingTheServer(t *testing.T) {
	t.Parallel()
	addr, connections := countingListener(t)
	to := target{addr: addr}
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"person without a name", []string{"people", "create", "--age-band", "75+"}, "--name is required"},
		{"unknown consent scope", []string{"people", "create", "--name", "A", "--consent", "basic,everything"}, `--consent: "everything" is not one of: basic, contact, notes`},
		{"unknown contact method", []string{"people", "create", "--name", "A", "--contact-method", "pigeon"}, `--contact-method: "pigeon" is not one of`},
		{"update with nothing", []string{"people", "update", id}, "nothing to update"},
		{"object without id", []string{"people", "object"}, "missing the ID"},
		{"referral without asset", []string{"referrals", "create", "--person", id}, "--person and --asset are required"},
		{"unknown priority", []string{"referrals", "create", "--person", id, "--asset", id, "--priority", "asap"}, `--priority: "asap" is not one of: routine, urgent`},
		{"transition without status", []string{"referrals", "transition", id}, "--to is required"},
		{"transition to an unknown status", []string{"referrals", "transition", id, "--to", "done"}, `--to: "done" is not one of: draft, requested, accepted`},
		{"list from a bad side", []string{"referrals", "list", "--side", "theirs"}, "--side must be referring or providing"},
		{"list an unknown status", []string{"referrals", "list", "--status", "open"}, `--status: "open" is not one of`},
		{"outcome with nothing", []string{"referrals", "outcome", id}, "nothing to record"},
		{"outcome scores not numbers", []string{"referrals", "outcome", id, "--baseline-ons4", "4,five,4,7"}, "--baseline-ons4: \"4,five,4,7\" is not a comma-separated list"},
		{"watch a negative count", []string{"referrals", "watch", "--count", "-1"}, "--count must not be negative"},
		{"stats from a vague time", []string{"referrals", "stats", "--from", "last week"}, `--from: "last week" is not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sparc(t, to, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d saying %q", r.code, r.stdout, r.stderr, exitUsage, tt.want)
			}
		})
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("%d connections reached the server", n)
	}
}
