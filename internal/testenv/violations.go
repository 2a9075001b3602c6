package testenv

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// FieldViolations returns the field violations (google.rpc.BadRequest) an
// error carries, in the order the server gave them.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

// Fields returns the fields an error says are invalid, in the order the
// server gave them.
func Fields(err error) []string {
	var out []string
	for _, v := range FieldViolations(err) {
		out = append(out, v.GetField())
	}
	return out
}
