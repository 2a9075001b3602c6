package people

import (
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func TestSealedContactReadsBothEncodings(t *testing.T) {
	want := &sparcv1.PersonContact{Phone: "0121 496 0000", Email: "a.b@example.org", Address: "1 High St, Birmingham"}
	cases := []struct {
		name  string
		plain []byte
		want  *sparcv1.PersonContact
	}{
		{"protobuf, as sealed now", encodeContact(want), want},
		{"JSON, as sealed by the first releases", []byte(`{"phone":"0121 496 0000","email":"a.b@example.org","address":"1 High St, Birmingham"}`), want},
		{"JSON with some details", []byte(`{"email":"a.b@example.org"}`), &sparcv1.PersonContact{Email: "a.b@example.org"}},
		{"no details", encodeContact(&sparcv1.PersonContact{}), &sparcv1.PersonContact{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeContact(tc.plain)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := decodeContact([]byte(`{"phone":`)); err == nil {
		t.Error("a broken JSON contact was read without error")
	}
}
