package notify

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// settingsSuffix ends the settings' name under their organisation.
const settingsSuffix = "/emailNotificationSettings"

// settingsName is the name of organisation org's settings.
func settingsName(org uuid.UUID) string { return aip.Name(aip.Organisations, org) + settingsSuffix }

// parseSettingsName reads "organisations/{uuid}/emailNotificationSettings".
func parseSettingsName(v *apierr.InvalidArgument, field, name string) uuid.UUID {
	org, ok := strings.CutSuffix(name, settingsSuffix)
	if !ok {
		if name == "" {
			v.Add(field, "is required")
		} else {
			v.Add(field, "must be organisations/{uuid}%s", settingsSuffix)
		}
		return uuid.Nil
	}
	return aip.ParseName(v, field, aip.Organisations, org)
}

// fields: what an update may change.
var fields = aip.NewFields(&sparcv1.EmailNotificationSettings{}, []string{"enabled", "language_code"},
	"name", "recipient", "delivery_configured", "emails_sent", "last_success_time", "last_failure_time", "last_error",
	"consecutive_failures", "next_attempt_time", "etag")

func validateUpdate(req *sparcv1.UpdateEmailNotificationSettingsRequest) (uuid.UUID, aip.Mask, error) {
	var v apierr.InvalidArgument
	in := req.GetSettings()
	if in == nil {
		v.Add("settings", "is required")
		return uuid.Nil, aip.Mask{}, v.Err()
	}
	org := parseSettingsName(&v, "settings.name", in.GetName())
	mask := fields.Parse(&v, "update_mask", req.GetUpdateMask(), in)
	aip.CheckEtag(&v, "settings.etag", in.GetEtag())
	if mask.Has("language_code") && !slices.Contains(Languages, in.GetLanguageCode()) {
		v.Add("settings.language_code", "must be one of %s", strings.Join(Languages, ", "))
	}
	return org, mask, v.Err()
}
