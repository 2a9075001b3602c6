package auth

import (
	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// validateCreateKey checks a key request and returns its organisation and
// stored role.
func validateCreateKey(req *sparcv1.CreateApiKeyRequest) (uuid.UUID, string, error) {
	var v apierr.InvalidArgument
	org := aip.ParseName(&v, "organisation", aip.Organisations, req.GetOrganisation())
	role := roleCode[req.GetRole()]
	if role == "" {
		v.Add("role", "must be ROLE_ADMIN, ROLE_LINK_WORKER, ROLE_GROUP_EDITOR, ROLE_AREA_ANALYST or ROLE_NETWORK_ADMIN")
	}
	aip.Text(&v, "display_name", req.GetDisplayName(), false, 200)
	return org, role, v.Err()
}
