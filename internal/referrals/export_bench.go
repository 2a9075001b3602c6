package referrals

// This file is a test hook, not part of the service's API: it lets
// cmd/sparcbench run the statement CreateReferral runs, to measure the
// service against the database's own limit. Nothing in the service uses it.

// BenchCreateStatement returns CreateReferral's single statement
// (createSQL, whose comment lists its parameters). Its first column is
// NULL when it wrote nothing.
func BenchCreateStatement() string { return createSQL }
