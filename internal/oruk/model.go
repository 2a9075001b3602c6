// Package oruk speaks Open Referral UK (HSDS-UK 3.0) for SPARC's directory:
// the public read API under /openreferral/ (services, organizations,
// service_at_locations, taxonomies and taxonomy terms, as the ORUK 3.0
// OpenAPI document defines them), the ORUK model and taxonomies, the
// mapping from SPARC assets to ORUK services, and the gRPC service imports
// write through. It reads assets only through the asset store. The
// client side (reading a feed into assets, exporting a dump) is package
// orukclient. docs/openreferral.md documents the mapping.
package oruk

// The types below are the ORUK 3.0 objects SPARC reads and writes, with
// their ORUK field names. Where ORUK's profile leaves out a field that HSDS
// 3.0 defines and SPARC needs for a lossless round trip (language name and
// code, service phones, attribute value), the HSDS 3.0 field is used; the
// ORUK schemas allow additional properties.

// Page is the ORUK paged list envelope.
type Page[T any] struct {
	TotalItems int  `json:"total_items"`
	TotalPages int  `json:"total_pages"`
	PageNumber int  `json:"page_number"`
	Size       int  `json:"size"`
	FirstPage  bool `json:"first_page"`
	LastPage   bool `json:"last_page"`
	Empty      bool `json:"empty"`
	Contents   []T  `json:"contents"`
}

// APIDetails answers GET /.
type APIDetails struct {
	Version    string `json:"version"`
	Profile    string `json:"profile"`
	OpenAPIURL string `json:"openapi_url"`
}

// Service is an ORUK service; in SPARC, one asset.
type Service struct {
	ID                 string              `json:"id"`
	OrganizationID     string              `json:"organization_id,omitempty"`
	Name               string              `json:"name"`
	Description        string              `json:"description"`
	URL                string              `json:"url,omitempty"`
	Email              string              `json:"email,omitempty"`
	Status             string              `json:"status"`
	Fees               string              `json:"fees,omitempty"`
	MinimumAge         *float64            `json:"minimum_age,omitempty"`
	MaximumAge         *float64            `json:"maximum_age,omitempty"`
	AssuredDate        string              `json:"assured_date,omitempty"`
	LastModified       string              `json:"last_modified,omitempty"`
	Schedules          []Schedule          `json:"schedules,omitempty"`
	ServiceAreas       []ServiceArea       `json:"service_areas,omitempty"`
	ServiceAtLocations []ServiceAtLocation `json:"service_at_locations,omitempty"`
	Languages          []Language          `json:"languages,omitempty"`
	Organization       *Organization       `json:"organization,omitempty"`
	CostOptions        []CostOption        `json:"cost_options,omitempty"`
	Contacts           []Contact           `json:"contacts,omitempty"`
	Phones             []Phone             `json:"phones,omitempty"`
	Attributes         []Attribute         `json:"attributes,omitempty"`
}

// Organization is an ORUK organization; in SPARC, an asset owner.
type Organization struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Email       string    `json:"email,omitempty"`
	Website     string    `json:"website,omitempty"`
	Services    []Service `json:"services,omitempty"`
}

// ServiceAtLocation links a service to a location.
type ServiceAtLocation struct {
	ID         string    `json:"id"`
	ServiceID  string    `json:"service_id,omitempty"`
	LocationID string    `json:"location_id,omitempty"`
	Location   *Location `json:"location,omitempty"`
	// Service is set in the service_at_locations endpoints only.
	Service *Service `json:"service,omitempty"`
}

// Location is where a service is delivered.
type Location struct {
	ID            string          `json:"id"`
	LocationType  string          `json:"location_type"`
	Name          string          `json:"name,omitempty"`
	Latitude      *float64        `json:"latitude,omitempty"`
	Longitude     *float64        `json:"longitude,omitempty"`
	Addresses     []Address       `json:"addresses,omitempty"`
	Accessibility []Accessibility `json:"accessibility,omitempty"`
}

// Address of a location. ORUK requires every key; empty strings are allowed.
type Address struct {
	ID            string `json:"id"`
	LocationID    string `json:"location_id,omitempty"`
	Address1      string `json:"address_1"`
	Address2      string `json:"address_2,omitempty"` // HSDS 3.0
	City          string `json:"city"`
	Region        string `json:"region,omitempty"`
	StateProvince string `json:"state_province"`
	PostalCode    string `json:"postal_code"`
	Country       string `json:"country"`
	AddressType   string `json:"address_type"`
}

// Accessibility is one accessibility feature of a location.
type Accessibility struct {
	ID            string `json:"id"`
	LocationID    string `json:"location_id,omitempty"`
	Description   string `json:"description,omitempty"`
	Details       string `json:"details,omitempty"`
	Accessibility string `json:"accessibility,omitempty"`
}

// Schedule is a recurring opening (RFC 5545 style).
type Schedule struct {
	ID          string   `json:"id"`
	ServiceID   string   `json:"service_id,omitempty"`
	ValidFrom   string   `json:"valid_from,omitempty"`
	ValidTo     string   `json:"valid_to,omitempty"`
	Freq        string   `json:"freq,omitempty"`
	Interval    *float64 `json:"interval,omitempty"`
	Byday       string   `json:"byday,omitempty"`
	Bymonthday  string   `json:"bymonthday,omitempty"`
	Description string   `json:"description,omitempty"`
	OpensAt     string   `json:"opens_at,omitempty"`
	ClosesAt    string   `json:"closes_at,omitempty"`
}

// ServiceArea is the area a service covers.
type ServiceArea struct {
	ID         string `json:"id"`
	ServiceID  string `json:"service_id,omitempty"`
	Name       string `json:"name,omitempty"`
	Extent     string `json:"extent,omitempty"`
	ExtentType string `json:"extent_type,omitempty"`
}

// Language is a language a service is delivered in. Name and Code are
// HSDS 3.0 fields (ORUK's profile lists only ids).
type Language struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id,omitempty"`
	Name      string `json:"name,omitempty"`
	Code      string `json:"code,omitempty"`
}

// CostOption is what using a service costs.
type CostOption struct {
	ID                string   `json:"id"`
	ServiceID         string   `json:"service_id,omitempty"`
	Option            string   `json:"option,omitempty"`
	Amount            *float64 `json:"amount,omitempty"`
	AmountDescription string   `json:"amount_description,omitempty"`
}

// Contact is a named contact of a service. Email and Phones are HSDS 3.0.
type Contact struct {
	ID        string  `json:"id"`
	ServiceID string  `json:"service_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Title     string  `json:"title,omitempty"`
	Email     string  `json:"email,omitempty"`
	Phones    []Phone `json:"phones,omitempty"`
}

// Phone is an HSDS 3.0 phone number.
type Phone struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id,omitempty"`
	Number    string `json:"number"`
}

// Attribute links a service to a taxonomy term. Value is HSDS 3.0.
type Attribute struct {
	ID             string        `json:"id"`
	LinkID         string        `json:"link_id,omitempty"`
	TaxonomyTermID string        `json:"taxonomy_term_id,omitempty"`
	LinkType       string        `json:"link_type,omitempty"`
	Value          string        `json:"value,omitempty"`
	TaxonomyTerm   *TaxonomyTerm `json:"taxonomy_term,omitempty"`
}

// TaxonomyTerm is one term of a taxonomy.
type TaxonomyTerm struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	ParentID    string `json:"parent_id,omitempty"`
	Taxonomy    string `json:"taxonomy,omitempty"`
	TaxonomyID  string `json:"taxonomy_id,omitempty"`
	Term        string `json:"term,omitempty"`
}

// Taxonomy is a vocabulary of terms.
type Taxonomy struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Version       string         `json:"version,omitempty"`
	TaxonomyTerms []TaxonomyTerm `json:"taxonomy_terms,omitempty"`
}
