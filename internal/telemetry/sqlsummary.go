package telemetry

import "strings"

// maxSummary bounds a summary's length (a span name should be short).
const maxSummary = 120

// summarise returns sql's operation (its first keyword: SELECT, INSERT,
// WITH...) and its summary for db.query.summary: the operation and the
// first table it reads or writes ("INSERT referrals", "SELECT assets",
// "WITH UPDATE referrals"), or the function a FROM-less SELECT calls
// ("SELECT set_config"). It reads words only: it holds no constant of the
// statement, so no value can leak into a summary.
func summarise(sql string) (op, summary string) {
	words := sqlWords(sql)
	if len(words) == 0 {
		return "", ""
	}
	op = strings.ToUpper(words[0].text)
	summary = op
	if op == "WITH" {
		// A CTE list leads to a statement; its first write names it.
		if kw, t := firstWrite(words); kw != "" {
			return op, clip(summary + " " + kw + " " + t)
		}
	}
	if t := firstTable(words); t != "" {
		summary += " " + t
	} else if op == "SELECT" && len(words) > 1 && words[1].call {
		summary += " " + words[1].text
	}
	return op, clip(summary)
}

func clip(s string) string {
	if len(s) > maxSummary {
		return s[:maxSummary]
	}
	return s
}

// firstWrite is the first INSERT, UPDATE or DELETE and its table.
func firstWrite(words []sqlWord) (kw, table string) {
	for i, w := range words {
		kw = strings.ToUpper(w.text)
		if kw != "INSERT" && kw != "UPDATE" && kw != "DELETE" {
			continue
		}
		if kw != "UPDATE" {
			i++ // INTO, FROM
		}
		if i+1 < len(words) {
			return kw, words[i+1].text
		}
		return kw, ""
	}
	return "", ""
}

// firstTable is the first name after INTO, UPDATE, FROM or JOIN outside
// parentheses (the table an INSERT, UPDATE or DELETE writes precedes
// what it reads; a subquery's tables are the statement's last resort).
func firstTable(words []sqlWord) string {
	for _, top := range []bool{true, false} {
		for i, w := range words[:len(words)-1] {
			if top && w.depth > 0 {
				continue
			}
			switch strings.ToUpper(w.text) {
			case "INTO", "UPDATE", "FROM", "JOIN":
				if next := words[i+1].text; !sqlKeywords[strings.ToUpper(next)] {
					return next
				}
			}
		}
	}
	return ""
}

// sqlWord is an identifier or keyword of a statement; call when a '('
// follows it, depth the parentheses around it.
type sqlWord struct {
	text  string
	call  bool
	depth int
}

// sqlKeywords may follow FROM or UPDATE without being a table.
var sqlKeywords = map[string]bool{"ONLY": true, "LATERAL": true, "SELECT": true, "SET": true, "VALUES": true}

// sqlWords splits sql into its identifiers and keywords (dotted names
// kept whole), skipping string constants, quoted identifiers' quotes,
// numbers, parameters, operators and comments.
func sqlWords(sql string) []sqlWord {
	var out []sqlWord
	depth := 0
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'': // a constant: skip to its closing quote ('' escapes one)
			i++
			for i < len(sql) && !(sql[i] == '\'' && (i+1 == len(sql) || sql[i+1] != '\'')) {
				if sql[i] == '\'' {
					i++
				}
				i++
			}
			i++
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(sql)
			}
		case isWordStart(c):
			j := i
			for j < len(sql) && (isWordStart(sql[j]) || sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == '$') {
				j++
			}
			k := j
			for k < len(sql) && (sql[k] == ' ' || sql[k] == '\t' || sql[k] == '\n') {
				k++
			}
			out = append(out, sqlWord{text: strings.ReplaceAll(sql[i:j], `"`, ""), call: k < len(sql) && sql[k] == '(', depth: depth})
			i = j
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		default:
			i++
		}
	}
	return out
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '"'
}
