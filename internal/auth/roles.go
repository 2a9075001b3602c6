package auth

import sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"

var roleCode = map[sparcv1.Role]string{
	sparcv1.Role_ROLE_ADMIN:         RoleAdmin,
	sparcv1.Role_ROLE_LINK_WORKER:   RoleLinkWorker,
	sparcv1.Role_ROLE_GROUP_EDITOR:  RoleGroupEditor,
	sparcv1.Role_ROLE_AREA_ANALYST:  RoleAreaAnalyst,
	sparcv1.Role_ROLE_NETWORK_ADMIN: RoleNetworkAdmin,
}

// RoleFromCode maps a stored role to the API enum.
func RoleFromCode(s string) sparcv1.Role {
	for k, v := range roleCode {
		if v == s {
			return k
		}
	}
	return sparcv1.Role_ROLE_UNSPECIFIED
}

// RoleCode maps the API enum to the stored role ("" when unknown).
func RoleCode(r sparcv1.Role) string { return roleCode[r] }
