package referrals

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/vocab"
)

var priorityCode = map[sparcv1.ReferralPriority]string{
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_UNSPECIFIED: "routine",
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_ROUTINE:     "routine",
	sparcv1.ReferralPriority_REFERRAL_PRIORITY_URGENT:      "urgent",
}

// validateCreate checks a CreateReferral request and returns what to
// write for caller. The request hash is over everything but the request
// id, so that a retry is recognised and a reused id refused.
func validateCreate(req *sparcv1.CreateReferralRequest, caller *auth.Principal) (createInput, error) {
	var v apierr.InvalidArgument
	if rid := req.GetRequestId(); rid == "" || len(rid) > 100 {
		v.Add("request_id", "is required (1 to 100 characters, e.g. a UUID); it makes retries safe")
	}
	// Names become ids by parsing alone: the one statement checks that
	// both exist, so CreateReferral stays one round trip.
	personID := aip.ParseName(&v, "person", aip.People, req.GetPerson())
	assetID := aip.ParseName(&v, "asset", aip.Assets, req.GetAsset())
	for i, r := range req.GetReasons() {
		if !vocab.IsCategory(r) {
			v.Add(fmt.Sprintf("reasons[%d]", i), "unknown category %q", r)
		}
	}
	aip.Text(&v, "provider_note", req.GetProviderNote(), false, 2000)
	aip.Text(&v, "eligibility_override_reason", req.GetEligibilityOverrideReason(), false, 500)
	if _, ok := priorityCode[req.GetPriority()]; !ok {
		v.Add("priority", "unknown priority")
	}
	if err := v.Err(); err != nil {
		return createInput{}, err
	}
	fingerprint := proto.Clone(req).(*sparcv1.CreateReferralRequest)
	// The person and asset are fingerprinted as the bare ids that
	// requests carried before resource names, so a request id used then
	// still recognises its retry.
	fingerprint.RequestId, fingerprint.Person, fingerprint.Asset = "", personID.String(), assetID.String()
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(fingerprint)
	hash := sha256.Sum256(b)
	status := "requested"
	if req.GetDraft() {
		status = "draft"
	}
	reasons := req.GetReasons()
	if reasons == nil {
		reasons = []string{}
	}
	return createInput{id: uuid.New(), person: personID, asset: assetID, referrer: caller.Org, linkWorker: caller.Name,
		reasons: reasons, note: req.GetProviderNote(), priority: priorityCode[req.GetPriority()], status: status,
		reqID: req.GetRequestId(), hash: hash[:], override: strings.TrimSpace(req.GetEligibilityOverrideReason())}, nil
}

func validMeasure(m *sparcv1.WellbeingMeasure, field string, v *apierr.InvalidArgument) {
	if m == nil {
		return
	}
	if n := len(m.GetOns4()); n != 0 && n != 4 {
		v.Add(field+".ons4", "needs the four ONS4 items, got %d", n)
	}
	for i, x := range m.GetOns4() {
		if x < 0 || x > 10 {
			v.Add(fmt.Sprintf("%s.ons4[%d]", field, i), "must be 0 to 10")
		}
	}
	if n := len(m.GetSwemwbs()); n != 0 && n != 7 {
		v.Add(field+".swemwbs", "needs the seven SWEMWBS items, got %d", n)
	}
	for i, x := range m.GetSwemwbs() {
		if x < 1 || x > 5 {
			v.Add(fmt.Sprintf("%s.swemwbs[%d]", field, i), "must be 1 to 5")
		}
	}
	if len(m.GetOns4()) == 0 && len(m.GetSwemwbs()) == 0 {
		v.Add(field, "has no measures")
	}
}
