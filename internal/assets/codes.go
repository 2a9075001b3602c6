package assets

import (
	"strconv"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/vocab"
)

// Enum values are stored as readable text codes, so the database stays
// meaningful to analysts querying it directly and to other tools.
var (
	kindCode = map[sparcv1.AssetKind]string{
		sparcv1.AssetKind_ASSET_KIND_UNSPECIFIED:    "unspecified",
		sparcv1.AssetKind_ASSET_KIND_INDIVIDUAL:     "individual",
		sparcv1.AssetKind_ASSET_KIND_ASSOCIATION:    "association",
		sparcv1.AssetKind_ASSET_KIND_INSTITUTION:    "institution",
		sparcv1.AssetKind_ASSET_KIND_PHYSICAL_SPACE: "physical_space",
		sparcv1.AssetKind_ASSET_KIND_LOCAL_ECONOMY:  "local_economy",
		sparcv1.AssetKind_ASSET_KIND_CULTURE:        "culture",
	}
	statusCode = map[sparcv1.AssetStatus]string{
		sparcv1.AssetStatus_ASSET_STATUS_UNSPECIFIED: "unspecified",
		sparcv1.AssetStatus_ASSET_STATUS_ACTIVE:      "active",
		sparcv1.AssetStatus_ASSET_STATUS_PAUSED:      "paused",
		sparcv1.AssetStatus_ASSET_STATUS_CLOSED:      "closed",
	}
	costCode = map[sparcv1.CostKind]string{
		sparcv1.CostKind_COST_KIND_UNSPECIFIED: "unspecified",
		sparcv1.CostKind_COST_KIND_FREE:        "free",
		sparcv1.CostKind_COST_KIND_LOW_COST:    "low_cost",
		sparcv1.CostKind_COST_KIND_PAID:        "paid",
	}
	// Unspecified is stored as NULL and runs in sessions, the default
	// (sparc.v1.Availability).
	availabilityCode = map[sparcv1.Availability]string{
		sparcv1.Availability_AVAILABILITY_UNSPECIFIED:      "",
		sparcv1.Availability_AVAILABILITY_SESSIONS:         "sessions",
		sparcv1.Availability_AVAILABILITY_DROP_IN:          "drop_in",
		sparcv1.Availability_AVAILABILITY_BY_APPOINTMENT:   "by_appointment",
		sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE: "always_available",
	}
	availabilityFromCode = map[string]sparcv1.Availability{
		"sessions":         sparcv1.Availability_AVAILABILITY_SESSIONS,
		"drop_in":          sparcv1.Availability_AVAILABILITY_DROP_IN,
		"by_appointment":   sparcv1.Availability_AVAILABILITY_BY_APPOINTMENT,
		"always_available": sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE,
	}
	// Unspecified is stored as NULL and is in person (every listing
	// before remote services).
	deliveryCode = map[sparcv1.DeliveryMode]string{
		sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED: "",
		sparcv1.DeliveryMode_DELIVERY_MODE_IN_PERSON:   "in_person",
		sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE:   "telephone",
		sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE:      "online",
		sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT:  "home_visit",
	}
	deliveryFromCode = map[string]sparcv1.DeliveryMode{
		"in_person":  sparcv1.DeliveryMode_DELIVERY_MODE_IN_PERSON,
		"telephone":  sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE,
		"online":     sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE,
		"home_visit": sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT,
	}
	kindFromCode   = vocab.FromCodes(kindCode)
	statusFromCode = vocab.FromCodes(statusCode)
	costFromCode   = vocab.FromCodes(costCode)
)

// DeliveryCode returns the stored code of a delivery mode ("telephone"),
// "" for an unspecified one.
func DeliveryCode(m sparcv1.DeliveryMode) string { return deliveryCode[m] }

// DeliveryOfCode is the delivery mode of a stored code; ok is false for
// an unknown one.
func DeliveryOfCode(code string) (m sparcv1.DeliveryMode, ok bool) {
	m, ok = deliveryFromCode[code]
	return m, ok
}

// KindCode returns the stored code of an asset kind ("association").
func KindCode(k sparcv1.AssetKind) string { return kindCode[k] }

// IsRemote reports whether a is a remote service (telephone, online, home
// visit): it has no point and is found by its service area.
func IsRemote(a *sparcv1.Asset) bool {
	m := a.GetDeliveryMode()
	return m != sparcv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED && m != sparcv1.DeliveryMode_DELIVERY_MODE_IN_PERSON
}

func itoa(i int) string { return strconv.Itoa(i) }
