package notify

import (
	"errors"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // digest time zones resolve without the host's zone files

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
var fields = aip.NewFields(&sparcv1.EmailNotificationSettings{}, []string{"enabled", "language_code", "daily_digest", "digest_hour", "time_zone"},
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
	if mask.Has("digest_hour") && (in.GetDigestHour() < 0 || in.GetDigestHour() > 23) {
		v.Add("settings.digest_hour", "must be an hour from 0 to 23")
	}
	if mask.Has("time_zone") {
		if _, err := zone(in.GetTimeZone()); err != nil {
			v.Add("settings.time_zone", "must be an IANA time zone such as Europe/London or Europe/Amsterdam")
		}
	}
	return org, mask, v.Err()
}

// zone resolves an IANA time zone name; the empty name and "Local" (the
// server's own zone, not the organisation's) are refused.
func zone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, errors.New("no such time zone")
	}
	return time.LoadLocation(name)
}
