package auth

import (
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
)

// validateCreateKey checks a key request and returns its organisation and
// stored role.
func validateCreateKey(req *sparcv1.CreateApiKeyRequest) (uuid.UUID, string, error) {
	var v apierr.InvalidArgument
	org, _ := parseOrgID(req.GetOrganisationId(), &v)
	role := roleCode[req.GetRole()]
	if role == "" {
		v.Add("role", "must be ROLE_ADMIN, ROLE_LINK_WORKER, ROLE_GROUP_EDITOR, ROLE_AREA_ANALYST or ROLE_NETWORK_ADMIN")
	}
	if utf8.RuneCountInString(req.GetDisplayName()) > 200 {
		v.Add("display_name", "is more than 200 characters")
	}
	return org, role, v.Err()
}

// parseOrgID reads an organisation id ("<uuid>" or "organisations/<uuid>").
func parseOrgID(s string, v *apierr.InvalidArgument) (uuid.UUID, bool) {
	id, err := uuid.Parse(strings.TrimPrefix(s, "organisations/"))
	if err != nil {
		v.Add("organisation_id", "is not an organisation id (a UUID)")
		return uuid.Nil, false
	}
	return id, true
}
