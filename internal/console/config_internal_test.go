package console

import "testing"

// The provider's endpoints the browser is sent to, or posts the code to
// (and which the CSP names), must be https (http on loopback only) and
// unable to add to the policy.
func TestProviderEndpointsAreCheckedBeforeUse(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://idp.example/token":                   true,
		"http://127.0.0.1:8081/token":                 true,
		"http://localhost/token":                      true,
		"http://[::1]:9000/token":                     true,
		"http://idp.example/token":                    false, // the code in clear
		"https://idp.example/token; script-src *":     false, // would widen the policy
		"https://idp.example/token,https://evil.test": false,
		"https://user:pw@idp.example/token":           false,
		"https://idp.example/token#x":                 false,
		"/token":                                      false,
		"javascript:alert(1)":                         false,
		"":                                            false,
	} {
		if err := endpoint(raw); (err == nil) != ok {
			t.Errorf("endpoint(%q): %v, want ok=%v", raw, err, ok)
		}
	}
}
