package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func init() {
	register("people create", "record a person a link worker supports (link worker key)", peopleCreate)
	register("people get", "show a person with their details and consent (link worker key)", peopleGet)
	register("people update", "change a person's details or consent (link worker key)", peopleUpdate)
	register("people object", "record a person's objection: providers see nothing personal from now on", peopleObject)
	register("people list", "list your organisation's people by display name (link worker key)", peopleList)
	register("people search", "find people of your organisation by NHS number, name prefix (+ year of birth) or postcode", peopleSearch)
	register("referrals create", "refer a person to an asset (link worker key); safe to repeat with --request-id", referralsCreate)
	register("referrals get", "show a referral with its timeline, as your side may see it", referralsGet)
	register("referrals list", "list the referrals your organisation made or received", referralsList)
	register("referrals transition", "move a referral to another status (accept, reject, cancel, ...)", referralsTransition)
	register("referrals outcome", "record attendance and wellbeing measures (ONS4, SWEMWBS)", referralsOutcome)
	register("referrals watch", "follow changes to your referrals as they happen (resumable with --cursor)", referralsWatch)
	register("referrals stats", "aggregate figures with small numbers suppressed", referralsStats)
}

// personFlags are the detail flags of people create and update.
type personFlags struct {
	name, ageBand, postcode, method, phone, email, address, nhs, whatMatters, consent string
	yearOfBirth                                                                       int
	needs                                                                             stringList
}

func (p *personFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&p.name, "name", "", "display name or initials")
	fs.StringVar(&p.ageBand, "age-band", "", "0-15, 16-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65-74 or 75+")
	fs.IntVar(&p.yearOfBirth, "year-of-birth", 0, "year of birth (instead of an age band)")
	fs.StringVar(&p.postcode, "postcode", "", "full postcode (analytics use only its outward part)")
	fs.StringVar(&p.method, "contact-method", "", "preferred contact: "+enumChoices(sparcv1.ContactMethod_name, "CONTACT_METHOD_"))
	fs.StringVar(&p.phone, "phone", "", "phone number (encrypted at rest)")
	fs.StringVar(&p.email, "email", "", "email address (encrypted at rest)")
	fs.StringVar(&p.address, "address", "", "postal address (encrypted at rest)")
	fs.StringVar(&p.nhs, "nhs-number", "", "NHS number (checked, encrypted, never shown to providers)")
	fs.StringVar(&p.whatMatters, "what-matters", "", "\"what matters to me\" notes")
	fs.Var(&p.needs, "need", "need category code (repeatable or comma-separated)")
	fs.StringVar(&p.consent, "consent", "", "what the provider may see: comma-separated basic, contact, notes; \"none\" to share nothing")
}

// person builds the message and the update mask from the flags given.
func (p *personFlags) person(set map[string]bool) (*sparcv1.Person, []string, error) {
	out := &sparcv1.Person{DisplayName: p.name, AgeBand: p.ageBand, Postcode: p.postcode, NhsNumber: p.nhs,
		WhatMatters: p.whatMatters, Needs: p.needs}
	var paths []string
	for flagName, path := range map[string]string{"name": "display_name", "age-band": "age_band", "year-of-birth": "year_of_birth",
		"postcode": "postcode", "contact-method": "contact_method", "nhs-number": "nhs_number", "what-matters": "what_matters",
		"need": "needs", "consent": "consent"} {
		if set[flagName] {
			paths = append(paths, path)
		}
	}
	if set["phone"] || set["email"] || set["address"] {
		out.Contact = &sparcv1.PersonContact{Phone: p.phone, Email: p.email, Address: p.address}
		paths = append(paths, "contact")
	}
	sort.Strings(paths)
	y, err := int32Flag("year-of-birth", p.yearOfBirth)
	if err != nil {
		return nil, nil, err
	}
	out.YearOfBirth = y
	if set["contact-method"] {
		m, err := parseEnum("contact-method", p.method, sparcv1.ContactMethod_value, sparcv1.ContactMethod_name, "CONTACT_METHOD_")
		if err != nil {
			return nil, nil, err
		}
		out.ContactMethod = sparcv1.ContactMethod(m)
	}
	if set["consent"] {
		out.Consent = &sparcv1.Consent{}
		if !strings.EqualFold(strings.TrimSpace(p.consent), "none") {
			out.Consent.ShareWithProvider = true
			for _, s := range strings.Split(p.consent, ",") {
				sc, err := parseEnum("consent", s, sparcv1.ConsentScope_value, sparcv1.ConsentScope_name, "CONSENT_SCOPE_")
				if err != nil {
					return nil, nil, err
				}
				out.Consent.Scopes = append(out.Consent.Scopes, sparcv1.ConsentScope(sc))
			}
		}
	}
	return out, paths, nil
}

func peopleCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("people create"), "people create --name NAME [--age-band B] [--postcode P] [--phone P] [--consent basic,contact,notes] ...")
	var pf personFlags
	pf.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(pf.name) == "" {
		return usagef("--name is required (initials are enough)")
	}
	p, _, err := pf.person(flagsSet(fs))
	if err != nil {
		return err
	}
	return c.printPerson(sparcv1.NewPersonServiceClient(c.conn).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: p}))
}

func peopleGet(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "people get", "people get NAME   (people/ID or the bare ID)", "people",
		sparcv1.NewPersonServiceClient(c.conn).GetPerson, c.printPerson)
}

func peopleUpdate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("people update"), "people update NAME [--name N] [--phone P] [--consent SCOPES|none] ... [--etag E]")
	var pf personFlags
	var etag string
	pf.bind(fs)
	fs.StringVar(&etag, "etag", "", "only update if unchanged since this etag")
	name, err := c.parseName(fs, args, "people")
	if err != nil {
		return err
	}
	p, paths, err := pf.person(flagsSet(fs))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("nothing to update: give at least one detail flag (or use 'people object')")
	}
	p.Name, p.Etag = name, etag
	return c.printPerson(sparcv1.NewPersonServiceClient(c.conn).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: p,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}))
}

func peopleObject(ctx context.Context, c *cli, args []string) error {
	name, err := c.parseName(withSynopsis(newFlags("people object"), "people object NAME"), args, "people")
	if err != nil {
		return err
	}
	return c.printPerson(sparcv1.NewPersonServiceClient(c.conn).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{
		Person: &sparcv1.Person{Name: name}, Object: true}))
}

func peopleList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("people list"), "people list [--all]")
	var p pageFlags
	p.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	return c.printPeople(listPages(ctx, &p, &sparcv1.ListPeopleRequest{}, sparcv1.NewPersonServiceClient(c.conn).ListPeople))
}

func peopleSearch(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("people search"),
		"people search (--nhs-number N | --name PREFIX [--born YEAR] | --postcode P) [--all]\n"+
			"  The CLI speaks gRPC: the NHS number is never in a URL.")
	req := &sparcv1.SearchPeopleRequest{}
	var born int
	fs.StringVar(&req.NhsNumber, "nhs-number", "", "exact NHS number (spaces and dashes ignored)")
	fs.StringVar(&req.DisplayNamePrefix, "name", "", "the start of the display name, any case (at least 2 characters)")
	fs.IntVar(&born, "born", 0, "with --name: year of birth (people with only a fitting age band match too)")
	fs.StringVar(&req.Postcode, "postcode", "", "full postcode, any case and spacing")
	var p pageFlags
	p.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	req.YearOfBirth = int32(born)
	return c.printPeople(listPages(ctx, &p, req, sparcv1.NewPersonServiceClient(c.conn).SearchPeople))
}

// printPeople prints list and search results, or the error of the call:
// summaries (no contact, NHS number or notes; 'people get' shows them).
func (c *cli) printPeople(resp interface {
	page
	GetPeople() []*sparcv1.Person
}, err error) error {
	if err != nil {
		return err
	}
	err = printList(c, resp, resp.GetPeople(), "NAME\tDISPLAY NAME\tAGE\tPOSTCODE\tUPDATED", func(p *sparcv1.Person) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", p.GetName(), truncate(clean(p.GetDisplayName()), 32),
			orDash(joinNonEmpty(" ", p.GetAgeBand(), yearOrEmpty(p.GetYearOfBirth()))), orDash(clean(p.GetPostcode())), formatTime(p.GetUpdateTime()))
	})
	if err == nil && len(resp.GetPeople()) == 0 && c.output != "json" && c.errOut != nil {
		fmt.Fprintln(c.errOut, "nobody found")
	}
	return err
}

// printPerson prints the person a call answered with, or returns the
// call's error.
func (c *cli) printPerson(p *sparcv1.Person, err error) error {
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(p)
	}
	var scopes []string
	for _, s := range p.GetConsent().GetScopes() {
		scopes = append(scopes, shortEnum(s.String(), "CONSENT_SCOPE_"))
	}
	consent := "not shared"
	switch {
	case p.GetConsent().GetObjectionTime() != nil:
		consent = "objected " + formatTime(p.GetConsent().GetObjectionTime())
	case p.GetConsent().GetShareWithProvider():
		consent = "shares " + orDash(strings.Join(scopes, ",")) + " since " + formatTime(p.GetConsent().GetConsentTime())
	}
	ct := p.GetContact()
	return c.keyValues([][2]string{
		{"NAME", p.GetName()},
		{"DISPLAY NAME", p.GetDisplayName()},
		{"AGE", joinNonEmpty(" ", p.GetAgeBand(), yearOrEmpty(p.GetYearOfBirth()))},
		{"POSTCODE", p.GetPostcode()},
		{"CONTACT", joinNonEmpty(" ", shortEnum(p.GetContactMethod().String(), "CONTACT_METHOD_")+":",
			joinNonEmpty(", ", ct.GetPhone(), ct.GetEmail(), ct.GetAddress()))},
		{"NHS NUMBER", p.GetNhsNumber()},
		{"WHAT MATTERS", p.GetWhatMatters()},
		{"NEEDS", strings.Join(p.GetNeeds(), ",")},
		{"CONSENT", consent},
		{"ETAG", p.GetEtag()},
	})
}

func yearOrEmpty(y int32) string {
	if y == 0 {
		return ""
	}
	return "born " + strconv.Itoa(int(y))
}

// keyValues prints name/value pairs one per line.
func (c *cli) keyValues(kv [][2]string) error {
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for _, f := range kv {
		fmt.Fprintf(w, "%s\t%s\n", f[0], orDash(clean(f[1])))
	}
	return w.Flush()
}

func parseReferralStatus(flagName, v string) (sparcv1.ReferralStatus, error) {
	s, err := parseEnum(flagName, v, sparcv1.ReferralStatus_value, sparcv1.ReferralStatus_name, "REFERRAL_STATUS_")
	return sparcv1.ReferralStatus(s), err
}

func referralsCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals create"), "referrals create --person NAME --asset NAME [--reason CAT...] [--note TEXT] [--priority routine|urgent] [--draft] [--override-reason TEXT] [--request-id ID]")
	var person, asset, note, priority, requestID, override string
	var reasons stringList
	var draft bool
	fs.StringVar(&person, "person", "", "the person (people/ID from 'people create', or the bare ID)")
	fs.StringVar(&asset, "asset", "", "the asset of the activity (assets/ID or the bare ID)")
	fs.Var(&reasons, "reason", "reason category code (repeatable or comma-separated)")
	fs.StringVar(&note, "note", "", "what the provider needs to know (hidden from them without consent)")
	fs.StringVar(&priority, "priority", "routine", "routine or urgent")
	fs.BoolVar(&draft, "draft", false, "keep it as a draft, not yet sent to the provider")
	fs.StringVar(&override, "override-reason", "", "refer although the asset's age range excludes the person, saying why (kept in the timeline; the provider sees only that the age check was overridden)")
	fs.StringVar(&requestID, "request-id", "", "makes a retry safe: the same id returns the first referral (default: a new UUID, printed to stderr)")
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if person == "" || asset == "" {
		return usagef("--person and --asset are required")
	}
	pr, err := parseEnum("priority", priority, sparcv1.ReferralPriority_value, sparcv1.ReferralPriority_name, "REFERRAL_PRIORITY_")
	if err != nil {
		return err
	}
	if requestID == "" {
		requestID = uuid.NewString()
		if c.errOut != nil {
			fmt.Fprintf(c.errOut, "request id %s (repeat with --request-id %s if unsure it went through)\n", requestID, requestID)
		}
	}
	return c.printReferral(sparcv1.NewReferralServiceClient(c.conn).CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: requestID,
		Person: nameOf("people", person), Asset: nameOf("assets", asset), Reasons: reasons, ProviderNote: note, Priority: sparcv1.ReferralPriority(pr), Draft: draft,
		EligibilityOverrideReason: override}))
}

func referralsGet(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "referrals get", "referrals get NAME   (referrals/ID or the bare ID)", "referrals",
		sparcv1.NewReferralServiceClient(c.conn).GetReferral, c.printReferral)
}

func referralsList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals list"), "referrals list [--side referring|providing] [--status S...] [--all]")
	var side string
	var statuses stringList
	var p pageFlags
	fs.StringVar(&side, "side", "", "referring (made by your organisation), providing (received) or both (default)")
	fs.Var(&statuses, "status", "any of these statuses (repeatable or comma-separated): "+enumChoices(sparcv1.ReferralStatus_name, "REFERRAL_STATUS_"))
	p.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if side != "" && side != "referring" && side != "providing" {
		return usagef("--side must be referring or providing, not %q", side)
	}
	req := &sparcv1.ListReferralsRequest{Side: side}
	var err error
	req.Statuses, err = parseEach(statuses, func(v string) (sparcv1.ReferralStatus, error) { return parseReferralStatus("status", v) })
	if err != nil {
		return err
	}
	resp, err := listPages(ctx, &p, req, sparcv1.NewReferralServiceClient(c.conn).ListReferrals)
	if err != nil {
		return err
	}
	return printList(c, resp, resp.GetReferrals(), "NAME\tSTATUS\tPRIORITY\tPERSON\tASSET\tUPDATED", func(r *sparcv1.Referral) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.GetName(), statusText(r), shortEnum(r.GetPriority().String(), "REFERRAL_PRIORITY_"),
			orDash(truncate(clean(r.GetPersonDetails().GetDisplayName()), 24)), r.GetAsset(), formatTime(r.GetUpdateTime()))
	})
}

func statusText(r *sparcv1.Referral) string {
	return joinNonEmpty(":", shortEnum(r.GetStatus().String(), "REFERRAL_STATUS_"), r.GetStatusReason())
}

func referralsTransition(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals transition"), "referrals transition NAME --to STATUS [--reason CODE] [--note TEXT] [--etag E]")
	var to, reason, note, etag string
	fs.StringVar(&to, "to", "", "new status: "+enumChoices(sparcv1.ReferralStatus_name, "REFERRAL_STATUS_"))
	fs.StringVar(&reason, "reason", "", "coded reason, required for rejected, cancelled, on_hold and failed (see docs/referrals.md)")
	fs.StringVar(&note, "note", "", "note for the timeline")
	fs.StringVar(&etag, "etag", "", "only change it if unchanged since this etag")
	name, err := c.parseName(fs, args, "referrals")
	if err != nil {
		return err
	}
	if to == "" {
		return usagef("--to is required")
	}
	st, err := parseReferralStatus("to", to)
	if err != nil {
		return err
	}
	return c.printReferral(sparcv1.NewReferralServiceClient(c.conn).TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: name,
		ToStatus: st, Reason: reason, Note: note, Etag: etag}))
}

// scoreList parses a comma-separated list of whole numbers ("4,5,4,7").
func scoreList(flagName, v string) ([]int32, error) {
	if v == "" {
		return nil, nil
	}
	var out []int32
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, usagef("--%s: %q is not a comma-separated list of whole numbers", flagName, v)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

func wellbeingMeasure(ons4Flag, ons4, swemFlag, swem string) (*sparcv1.WellbeingMeasure, error) {
	o, err := scoreList(ons4Flag, ons4)
	if err != nil {
		return nil, err
	}
	s, err := scoreList(swemFlag, swem)
	if err != nil {
		return nil, err
	}
	if o == nil && s == nil {
		return nil, nil
	}
	return &sparcv1.WellbeingMeasure{Ons4: o, Swemwbs: s}, nil
}

func referralsOutcome(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals outcome"), "referrals outcome NAME [--sessions N] [--baseline-ons4 a,b,c,d] [--baseline-swemwbs 7 items] [--followup-ons4 ...] [--followup-swemwbs ...] [--what-changed TEXT]")
	var sessions int
	var bOns4, bSwem, fOns4, fSwem, changed, etag string
	fs.IntVar(&sessions, "sessions", 0, "sessions attended so far (replaces the count)")
	fs.StringVar(&bOns4, "baseline-ons4", "", "ONS4 at the start: life satisfaction, worthwhile, happiness, anxiety (0-10 each)")
	fs.StringVar(&bSwem, "baseline-swemwbs", "", "SWEMWBS at the start: seven items, 1-5 each")
	fs.StringVar(&fOns4, "followup-ons4", "", "ONS4 at follow-up")
	fs.StringVar(&fSwem, "followup-swemwbs", "", "SWEMWBS at follow-up")
	fs.StringVar(&changed, "what-changed", "", "what changed for the person, in their words")
	fs.StringVar(&etag, "etag", "", "only record if unchanged since this etag")
	name, err := c.parseName(fs, args, "referrals")
	if err != nil {
		return err
	}
	req := &sparcv1.RecordOutcomeRequest{Name: name, WhatChanged: changed, Etag: etag}
	if flagsSet(fs)["sessions"] {
		n, err := int32Flag("sessions", sessions)
		if err != nil {
			return err
		}
		req.SessionsAttended = proto.Int32(n)
	}
	if req.Baseline, err = wellbeingMeasure("baseline-ons4", bOns4, "baseline-swemwbs", bSwem); err != nil {
		return err
	}
	if req.FollowUp, err = wellbeingMeasure("followup-ons4", fOns4, "followup-swemwbs", fSwem); err != nil {
		return err
	}
	if req.SessionsAttended == nil && req.Baseline == nil && req.FollowUp == nil && changed == "" {
		return usagef("nothing to record: give --sessions, a measure or --what-changed")
	}
	return c.printReferral(sparcv1.NewReferralServiceClient(c.conn).RecordOutcome(ctx, req))
}

// printReferral prints the referral a call answered with, or returns the
// call's error.
func (c *cli) printReferral(r *sparcv1.Referral, err error) error {
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(r)
	}
	p := r.GetPersonDetails()
	o := r.GetOutcome()
	m := func(w *sparcv1.WellbeingMeasure) string {
		if w == nil {
			return ""
		}
		var parts []string
		if len(w.GetOns4()) > 0 {
			parts = append(parts, "ONS4 "+joinInts(w.GetOns4()))
		}
		if len(w.GetSwemwbs()) > 0 {
			sum := int32(0)
			for _, x := range w.GetSwemwbs() {
				sum += x
			}
			parts = append(parts, fmt.Sprintf("SWEMWBS %d", sum))
		}
		return strings.Join(parts, "; ")
	}
	// The readable summary (names, where, when) beside the names it reads.
	sum := r.GetSummary()
	next := ""
	if n := sum.GetNextSession(); n != nil {
		at := strings.Replace(n.GetLocalStart(), "T", " ", 1)
		if len(at) > 16 {
			at = at[:16] // to the minute
		}
		next = at + " (" + n.GetTimeZone() + ")"
	}
	err = c.keyValues([][2]string{
		{"NAME", r.GetName()},
		{"STATUS", statusText(r)},
		{"PRIORITY", shortEnum(r.GetPriority().String(), "REFERRAL_PRIORITY_")},
		{"PERSON", joinNonEmpty(" ", p.GetDisplayName(), p.GetAgeBand(), joinNonEmpty(", ", p.GetContact().GetPhone(),
			p.GetContact().GetEmail(), p.GetContact().GetAddress()))},
		{"WHAT MATTERS", p.GetWhatMatters()},
		{"ASSET", joinNonEmpty(" ", sum.GetAssetDisplayName(), paren(r.GetAsset()))},
		{"WHERE", joinNonEmpty(", ", sum.GetAddress(), sum.GetLocality(), sum.GetPostcode())},
		{"NEXT SESSION", next},
		{"REFERRER", joinNonEmpty(" ", sum.GetReferringOrganisationDisplayName(), paren(r.GetReferringOrganisation()),
			sum.GetLinkWorkerDisplayName(), paren(r.GetLinkWorker()))},
		{"PROVIDER", joinNonEmpty(" ", sum.GetProviderOrganisationDisplayName(), paren(r.GetProviderOrganisation()))},
		{"REASONS", strings.Join(r.GetReasons(), ",")},
		{"NOTE", r.GetProviderNote()},
		{"SESSIONS", strconv.Itoa(int(o.GetSessionsAttended()))},
		{"BASELINE", m(o.GetBaseline())},
		{"FOLLOW-UP", m(o.GetFollowUp())},
		{"WHAT CHANGED", o.GetWhatChanged()},
		{"ETAG", r.GetEtag()},
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, "\nTIMELINE")
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	for _, e := range r.GetTimeline() {
		what := change(e.GetFromStatus(), e.GetToStatus())
		if e.GetReason() == "age_eligibility_overridden" {
			what = "age check overridden"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", formatTime(e.GetTime()), what,
			orDash(e.GetReason()), e.GetActor(), clean(e.GetNote()))
	}
	return w.Flush()
}

// change describes a timeline entry or watched change: "new → requested",
// "accepted → in_progress", or an outcome recorded in a status.
func change(from, to sparcv1.ReferralStatus) string {
	name := func(s sparcv1.ReferralStatus) string { return shortEnum(s.String(), "REFERRAL_STATUS_") }
	switch {
	case from == sparcv1.ReferralStatus_REFERRAL_STATUS_UNSPECIFIED:
		return "new → " + name(to)
	case from == to:
		return "outcome (" + name(to) + ")"
	}
	return name(from) + " → " + name(to)
}

func joinInts(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

func referralsWatch(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals watch"), "referrals watch [--cursor C|now] [--count N]   (runs until interrupted, --count, or the global --timeout)")
	var cursor string
	var count int
	fs.StringVar(&cursor, "cursor", "", "resume after this cursor (printed with each change); \"now\" skips the past; default: the oldest change kept")
	fs.IntVar(&count, "count", 0, "stop after this many changes (0: keep watching)")
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if count < 0 {
		return usagef("--count must not be negative")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := sparcv1.NewReferralServiceClient(c.conn).WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{Cursor: cursor})
	if err != nil {
		return err
	}
	last := cursor
	defer func() {
		if last != "" && c.errOut != nil {
			fmt.Fprintf(c.errOut, "resume with: --cursor %s\n", last)
		}
	}()
	for n := 0; count == 0 || n < count; n++ {
		ch, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			// Interrupted or out of time: a normal end of watching.
			if code := status.Code(err); code == codes.DeadlineExceeded || code == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return err
		}
		last = ch.GetCursor()
		if c.output == "json" {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ch)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, string(b)) // one change per line, as the HTTP stream
			continue
		}
		fmt.Fprintf(c.out, "%s  %-16s  %s  %-28s  %s\n", formatTime(ch.GetTime()), ch.GetType(), ch.GetReferral(),
			change(ch.GetFromStatus(), ch.GetToStatus()), ch.GetCursor())
	}
	return nil
}

func referralsStats(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("referrals stats"), "referrals stats [--org NAME | --area CODE] [--from T] [--to T]")
	var org, area, from, to string
	fs.StringVar(&org, "org", "", "referring organisation, organisations/ID or the bare ID (default: yours; others' figures are suppressed)")
	fs.StringVar(&area, "area", "", "area code: referrals to assets inside it (always suppressed)")
	fs.StringVar(&from, "from", "", "only referrals created at or after (RFC 3339 or YYYY-MM-DD)")
	fs.StringVar(&to, "to", "", "only referrals created before")
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	req := &sparcv1.ComputeReferralStatsRequest{Organisation: nameOf("organisations", org), AreaCode: area}
	var err error
	if req.StartTime, err = optionalTime("from", from); err != nil {
		return err
	}
	if req.EndTime, err = optionalTime("to", to); err != nil {
		return err
	}
	s, err := sparcv1.NewReferralServiceClient(c.conn).ComputeReferralStats(ctx, req)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(s)
	}
	return c.keyValues(statsRows(s))
}

// statsRows lays referral statistics out as label, value rows.
func statsRows(s *sparcv1.ReferralStats) [][2]string {
	count := func(n *sparcv1.StatCount) string {
		if n.GetSuppressed() {
			return "<8 (suppressed)"
		}
		return strconv.FormatInt(n.GetValue(), 10)
	}
	mean := func(m *sparcv1.MeanChange) string {
		if m == nil {
			return ""
		}
		if m.GetSuppressed() {
			return "suppressed (n < 8)"
		}
		if m.GetN().GetValue() == 0 {
			return ""
		}
		return fmt.Sprintf("%+.2f (n %s)", m.GetMean(), count(m.GetN()))
	}
	kv := [][2]string{}
	if s.GetStartTime() != nil || s.GetEndTime() != nil {
		// Figures about another organisation cover whole months that have
		// ended, whatever was asked: say which.
		when := func(t *timestamppb.Timestamp) string {
			if t == nil {
				return "…"
			}
			return t.AsTime().UTC().Format(time.RFC3339)
		}
		kv = append(kv, [2]string{"WINDOW", when(s.GetStartTime()) + " to " + when(s.GetEndTime())})
	}
	kv = append(kv, [2]string{"TOTAL", count(s.GetTotal())})
	names := make([]string, 0, len(s.GetByStatus()))
	for k := range s.GetByStatus() {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		kv = append(kv, [2]string{"  " + k, count(s.GetByStatus()[k])})
	}
	kv = append(kv,
		[2]string{"MEDIAN DAYS TO ACCEPTANCE", fmt.Sprintf("%.1f", s.GetMedianDaysToAcceptance())},
		[2]string{"MEDIAN DAYS TO FIRST SESSION", fmt.Sprintf("%.1f", s.GetMedianDaysToFirstAttendance())})
	for i, item := range []string{"life satisfaction", "worthwhile", "happiness", "anxiety"} {
		if i < len(s.GetOns4Change()) {
			kv = append(kv, [2]string{"ONS4 CHANGE " + item, mean(s.GetOns4Change()[i])})
		}
	}
	kv = append(kv, [2]string{"SWEMWBS CHANGE", mean(s.GetSwemwbsChange())})
	if s.GetSuppressed() {
		kv = append(kv, [2]string{"NOTE", "whole months that have ended; counts 1-7 suppressed, others rounded to the nearest 5"})
	}
	return kv
}

// paren is s in brackets, or nothing when s is empty.
func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
