// The API's JSON shapes the console reads (proto field names, as the
// gateway writes them: UseProtoNames, enums by name).

export interface Term { code: string; label_en: string; label_nl: string; vocabulary: string }
export interface Session { day: string; start_time: string; end_time: string; timezone: string }
export interface Asset {
  name: string;
  display_name: string;
  description: string;
  categories: string[];
  location: { latitude: number; longitude: number; address: string; postcode: string; locality: string; country: string };
  sessions: Session[];
  cost: { kind: string; note: string } | null;
  accessibility: string[];
  languages: string[];
  contact: { name: string; email: string; phone: string; website: string } | null;
  capacity?: number;
  places_left?: number;
  accepting_referrals: boolean;
  availability: string;
  age_range: { min_age?: number; max_age?: number } | null;
  /** DELIVERY_MODE_IN_PERSON (or absent), _TELEPHONE, _ONLINE, _HOME_VISIT. */
  delivery_mode?: string;
  service_area?: { area_codes?: string[]; country?: string } | null;
  service_area_geojson?: string;
  /** When the next session starts (RFC 3339); absent or null when none is to come. */
  next_session_time?: string | null;
}
/** remote: a service whose area covers the place searched (after the in-person ones, no point). */
export interface SearchResult { asset: Asset; distance_meters: number; remote?: boolean }
export interface Area { name: string; code: string; display_name: string; kind: string; reference_latitude: number; reference_longitude: number }
export interface Postcode { name: string; postcode: string; latitude: number; longitude: number; approximate: boolean; attribution: string }
export interface Person { name: string; display_name: string; year_of_birth: number; postcode: string; age_band: string }
export interface Referral {
  name: string;
  status: string;
  reasons: string[];
  provider_note: string;
  create_time: string;
  summary: {
    asset_display_name: string;
    address: string;
    postcode: string;
    locality: string;
    next_session: { start_time: string; time_zone: string } | null;
    provider_organisation_display_name: string;
  } | null;
  person_details: { display_name: string } | null;
}

/** "assets/uuid" → "uuid". */
export const idOf = (name: string) => name.slice(name.indexOf('/') + 1);
