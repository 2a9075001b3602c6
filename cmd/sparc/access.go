package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/pgcluster"
)

func init() {
	register("orgs create", "create an organisation (network admin key)", orgsCreate)
	register("orgs get", "show an organisation", orgsGet)
	register("orgs list", "list organisations", orgsList)
	register("orgs update", "change an organisation: your own (admin key), any and its status (network admin key)", orgsUpdate)
	register("keys create", "issue an API key: your organisation's (admin key), any organisation's (network admin key); shown once", keysCreate)
	register("keys list", "list API keys: prefix, role, created, last used (admin key: your organisation's; network admin key: all)", keysList)
	register("keys revoke", "revoke an API key (admin key: your organisation's; network admin key: any)", keysRevoke)
	register("keys bootstrap", "issue the first network admin key directly in the database (sparcd stopped)", keysBootstrap)
	// It may create, start and migrate the embedded database first.
	commands["keys bootstrap"].timeout = 5 * time.Minute
	register("audit list", "read the audit log (admin key: your organisation's events; network admin key: all)", auditList)
}

func parseOrgKind(v string) (sparcv1.OrganisationKind, error) {
	k, err := parseEnum("kind", v, sparcv1.OrganisationKind_value, sparcv1.OrganisationKind_name, "ORGANISATION_KIND_")
	return sparcv1.OrganisationKind(k), err
}

func parseRole(v string) (sparcv1.Role, error) {
	r, err := parseEnum("role", v, sparcv1.Role_value, sparcv1.Role_name, "ROLE_")
	return sparcv1.Role(r), err
}

func orgsCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs create"), "orgs create --name NAME --kind KIND [--email E] [--phone P] [--website URL] [--area CODE...]")
	var name, kind, email, phone, website string
	var areas stringList
	fs.StringVar(&name, "name", "", "display name")
	fs.StringVar(&kind, "kind", "", "gp_practice, primary_care_network, link_worker_service, community_group, voluntary_organisation, local_authority, public_health, housing, health_board, other")
	fs.StringVar(&email, "email", "", "contact email")
	fs.StringVar(&phone, "phone", "", "contact phone")
	fs.StringVar(&website, "website", "", "website")
	fs.Var(&areas, "area", "area code of operation (repeatable or comma-separated)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	k, err := parseOrgKind(kind)
	if err != nil {
		return err
	}
	o, err := sparcv1.NewOrganisationServiceClient(c.conn).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{
		Organisation: &sparcv1.Organisation{DisplayName: name, Kind: k, ContactEmail: email, ContactPhone: phone, Website: website, AreaCodes: areas}})
	if err != nil {
		return err
	}
	return c.printOrgs([]*sparcv1.Organisation{o}, "")
}

func orgsGet(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs get"), "orgs get NAME (organisations/ID or ID)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneName("organisations", pos)
	if err != nil {
		return err
	}
	o, err := sparcv1.NewOrganisationServiceClient(c.conn).GetOrganisation(ctx, &sparcv1.GetOrganisationRequest{Name: name})
	if err != nil {
		return err
	}
	return c.printOrgs([]*sparcv1.Organisation{o}, "")
}

func orgsList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs list"), "orgs list [--kind KIND] [--page-size N] [--page-token T] [--all]")
	var kinds stringList
	var p pageFlags
	fs.Var(&kinds, "kind", "organisation kind (repeatable)")
	p.bind(fs)
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	req := &sparcv1.ListOrganisationsRequest{}
	for _, k := range kinds {
		kk, err := parseOrgKind(k)
		if err != nil {
			return err
		}
		req.Kinds = append(req.Kinds, kk)
	}
	size, err := p.pageSize()
	if err != nil {
		return err
	}
	req.PageSize = size
	all, next, err := collect(&p, func(token string) ([]*sparcv1.Organisation, string, error) {
		req.PageToken = token
		resp, err := sparcv1.NewOrganisationServiceClient(c.conn).ListOrganisations(ctx, req)
		return resp.GetOrganisations(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return c.printOrgs(all, next)
}

func orgsUpdate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs update"), "orgs update NAME [--name DISPLAY_NAME] [--kind K] [--email E] [--phone P] [--website URL] [--area CODE...] [--status active|suspended|closed] [--etag E]")
	var name, kind, email, phone, website, st, etag string
	var areas stringList
	fs.StringVar(&name, "name", "", "display name")
	fs.StringVar(&kind, "kind", "", "organisation kind")
	fs.StringVar(&email, "email", "", "contact email")
	fs.StringVar(&phone, "phone", "", "contact phone")
	fs.StringVar(&website, "website", "", "website")
	fs.Var(&areas, "area", "area codes (replace the list)")
	fs.StringVar(&st, "status", "", "active, suspended (its keys stop working) or closed")
	fs.StringVar(&etag, "etag", "", "only update if unchanged since this etag")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	orgName, err := oneName("organisations", pos)
	if err != nil {
		return err
	}
	o := &sparcv1.Organisation{Name: orgName, Etag: etag}
	var paths []string
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["name"] {
		o.DisplayName, paths = name, append(paths, "display_name")
	}
	if set["kind"] {
		if o.Kind, err = parseOrgKind(kind); err != nil {
			return err
		}
		paths = append(paths, "kind")
	}
	if set["email"] {
		o.ContactEmail, paths = email, append(paths, "contact_email")
	}
	if set["phone"] {
		o.ContactPhone, paths = phone, append(paths, "contact_phone")
	}
	if set["website"] {
		o.Website, paths = website, append(paths, "website")
	}
	if set["area"] {
		o.AreaCodes, paths = areas, append(paths, "area_codes")
	}
	if set["status"] {
		s, err := parseEnum("status", st, sparcv1.OrganisationStatus_value, sparcv1.OrganisationStatus_name, "ORGANISATION_STATUS_")
		if err != nil {
			return err
		}
		o.Status, paths = sparcv1.OrganisationStatus(s), append(paths, "status")
	}
	if len(paths) == 0 {
		return usagef("nothing to update: give at least one field flag")
	}
	out, err := sparcv1.NewOrganisationServiceClient(c.conn).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
		Organisation: o, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	if err != nil {
		return err
	}
	return c.printOrgs([]*sparcv1.Organisation{out}, "")
}

func (c *cli) printOrgs(list []*sparcv1.Organisation, next string) error {
	if c.output == "json" {
		return c.printJSON(&sparcv1.ListOrganisationsResponse{Organisations: list, NextPageToken: next})
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tDISPLAY NAME\tKIND\tSTATUS\tAREAS")
	for _, o := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", o.GetName(), truncate(o.GetDisplayName(), 48),
			shortEnum(o.GetKind().String(), "ORGANISATION_KIND_"), shortEnum(o.GetStatus().String(), "ORGANISATION_STATUS_"),
			orDash(strings.Join(o.GetAreaCodes(), ",")))
	}
	return c.flushWithMore(w, next)
}

// flushWithMore prints a table and, when a page follows, how to get it
// (on the notes stream, so the table stays data).
func (c *cli) flushWithMore(w *tabwriter.Writer, next string) error {
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" && c.errOut != nil {
		fmt.Fprintf(c.errOut, "more results: --page-token %s\n", next)
	}
	return nil
}

func keysCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("keys create"), "keys create --org ORG --role admin|link_worker|group_editor|area_analyst|network_admin [--name TEXT]")
	var org, role, name string
	fs.StringVar(&org, "org", "", "organisation, organisations/ID or ID (an admin: its own)")
	fs.StringVar(&role, "role", "", "admin, link_worker, group_editor, area_analyst, or network_admin (by a network admin only)")
	fs.StringVar(&name, "name", "", "what the key is for")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	r, err := parseRole(role)
	if err != nil {
		return err
	}
	resp, err := sparcv1.NewApiKeyServiceClient(c.conn).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: nameOf("organisations", org), Role: r, DisplayName: name})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(resp)
	}
	fmt.Fprintf(c.out, "API key for %s (%s), shown only now; store it safely:\n%s\n", resp.GetApiKey().GetOrganisation(),
		shortEnum(resp.GetApiKey().GetRole().String(), "ROLE_"), resp.GetSecret())
	return nil
}

func keysList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("keys list"), "keys list [--org ORG] [--revoked] [--page-size N] [--page-token T] [--all]")
	var org string
	var revoked bool
	var p pageFlags
	fs.StringVar(&org, "org", "", "only keys of this organisation (organisations/ID or ID)")
	fs.BoolVar(&revoked, "revoked", false, "include revoked keys")
	p.bind(fs)
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	size, err := p.pageSize()
	if err != nil {
		return err
	}
	req := &sparcv1.ListApiKeysRequest{Organisation: nameOf("organisations", org), IncludeRevoked: revoked, PageSize: size}
	all, next, err := collect(&p, func(token string) ([]*sparcv1.ApiKey, string, error) {
		req.PageToken = token
		resp, err := sparcv1.NewApiKeyServiceClient(c.conn).ListApiKeys(ctx, req)
		return resp.GetApiKeys(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(&sparcv1.ListApiKeysResponse{ApiKeys: all, NextPageToken: next})
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPREFIX\tROLE\tORGANISATION\tCREATED\tLAST USED\tREVOKED\tNAME")
	for _, k := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.GetName(), k.GetPrefix(), shortEnum(k.GetRole().String(), "ROLE_"),
			k.GetOrganisation(), formatTime(k.GetCreateTime()), formatTime(k.GetLastUsedTime()), formatTime(k.GetRevokeTime()),
			truncate(k.GetDisplayName(), 32))
	}
	return c.flushWithMore(w, next)
}

func keysRevoke(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("keys revoke"), "keys revoke NAME (apiKeys/ID or ID)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneName("apiKeys", pos)
	if err != nil {
		return err
	}
	k, err := sparcv1.NewApiKeyServiceClient(c.conn).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: name})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(k)
	}
	fmt.Fprintf(c.out, "revoked %s (%s)\n", k.GetName(), k.GetPrefix())
	return nil
}

// keysBootstrap works on the database directly, not through sparcd: it is
// how the first network admin key comes to exist; the network admin then
// creates organisations and issues each its first admin key. With the embedded database it
// starts the cluster itself, so sparcd must be stopped (or use
// `sparcd --bootstrap-admin NAME`, which does the same at start).
func keysBootstrap(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("keys bootstrap"), "keys bootstrap --org-name NAME [--database-url URL | --data-dir DIR]")
	var name, url, dataDir string
	fs.StringVar(&name, "org-name", "", "organisation to hold the network admin key (created if missing)")
	fs.StringVar(&url, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (env DATABASE_URL); empty uses the embedded database")
	fs.StringVar(&dataDir, "data-dir", envOr("SPARC_DATA_DIR", ".sparc"), "embedded database directory (env SPARC_DATA_DIR)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return usagef("--org-name is required")
	}
	if url == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dataDir, Database: "sparc"})
		if errors.Is(err, pgcluster.ErrInUse) {
			return fmt.Errorf("%w\n(sparcd is running on this data dir: stop it, or restart it with --bootstrap-admin %q)", err, name)
		}
		if err != nil {
			return err
		}
		defer cluster.Stop() //nolint:errcheck
		url = cluster.URL("sparc")
	}
	owner, err := db.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, owner)
	owner.Close()
	if err != nil {
		return err
	}
	pool, err := db.OpenApp(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	key, org, err := orgs.Bootstrap(ctx, pool, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "Network admin API key for %s (organisations/%s), shown only now:\n%s\n", name, org, key)
	return nil
}

func auditList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("audit list"), "audit list [--since RFC3339] [--until RFC3339] [--principal P] [--resource R] [--outcome ok|denied|error] [--page-size N] [--page-token T] [--all]")
	var since, until, principal, resource, outcome string
	var p pageFlags
	fs.StringVar(&since, "since", "", "events at or after this time (RFC 3339)")
	fs.StringVar(&until, "until", "", "events before this time (RFC 3339)")
	fs.StringVar(&principal, "principal", "", `e.g. "key:sparc_ab12cd34"`)
	fs.StringVar(&resource, "resource", "", `e.g. "assets/<id>"`)
	fs.StringVar(&outcome, "outcome", "", "ok, denied or error")
	p.bind(fs)
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	req := &sparcv1.ListAuditEventsRequest{Principal: principal, Resource: resource, Outcome: outcome}
	var err error
	if since != "" {
		if req.StartTime, err = parseTime("since", since); err != nil {
			return err
		}
	}
	if until != "" {
		if req.EndTime, err = parseTime("until", until); err != nil {
			return err
		}
	}
	if req.PageSize, err = p.pageSize(); err != nil {
		return err
	}
	all, next, err := collect(&p, func(token string) ([]*sparcv1.AuditEvent, string, error) {
		req.PageToken = token
		resp, err := sparcv1.NewAuditServiceClient(c.conn).ListAuditEvents(ctx, req)
		return resp.GetEvents(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(&sparcv1.ListAuditEventsResponse{Events: all, NextPageToken: next})
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tPRINCIPAL\tROLE\tMETHOD\tRESOURCE\tOUTCOME\tCODE\tPEER")
	for _, e := range all {
		m := e.GetMethod()
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", formatTime(e.GetTime()), e.GetPrincipal(),
			orDash(shortEnum(e.GetRole().String(), "ROLE_")), m[strings.LastIndex(m, "/")+1:], e.GetResource(),
			e.GetOutcome(), e.GetCode(), e.GetPeer())
	}
	return c.flushWithMore(w, next)
}
