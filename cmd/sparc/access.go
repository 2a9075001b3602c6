package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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

// orgFlags are the detail flags of orgs create and update.
type orgFlags struct {
	name, kind, email, phone, website string
	areas                             stringList
}

func (f *orgFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringVar(&f.kind, "kind", "", "gp_practice, primary_care_network, link_worker_service, community_group, voluntary_organisation, local_authority, public_health, housing, health_board, other")
	fs.StringVar(&f.email, "email", "", "contact email")
	fs.StringVar(&f.phone, "phone", "", "contact phone")
	fs.StringVar(&f.website, "website", "", "website")
	fs.Var(&f.areas, "area", "area code of operation (repeatable or comma-separated; update replaces the list)")
}

func orgsCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs create"), "orgs create --name NAME --kind KIND [--email E] [--phone P] [--website URL] [--area CODE...]")
	var f orgFlags
	f.bind(fs)
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	k, err := parseOrgKind(f.kind)
	if err != nil {
		return err
	}
	return c.printOrg(sparcv1.NewOrganisationServiceClient(c.conn).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{
		Organisation: &sparcv1.Organisation{DisplayName: f.name, Kind: k, ContactEmail: f.email, ContactPhone: f.phone, Website: f.website, AreaCodes: f.areas}}))
}

func orgsGet(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "orgs get", "orgs get NAME (organisations/ID or ID)", "organisations",
		sparcv1.NewOrganisationServiceClient(c.conn).GetOrganisation, c.printOrg)
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
	var err error
	if req.Kinds, err = parseEach(kinds, parseOrgKind); err != nil {
		return err
	}
	resp, err := listPages(ctx, &p, req, sparcv1.NewOrganisationServiceClient(c.conn).ListOrganisations)
	if err != nil {
		return err
	}
	return c.printOrgs(resp)
}

func orgsUpdate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("orgs update"), "orgs update NAME [--name DISPLAY_NAME] [--kind K] [--email E] [--phone P] [--website URL] [--area CODE...] [--status active|suspended|closed] [--etag E]")
	var f orgFlags
	var st, etag string
	f.bind(fs)
	fs.StringVar(&st, "status", "", "active, suspended (its keys stop working) or closed")
	fs.StringVar(&etag, "etag", "", "only update if unchanged since this etag")
	orgName, err := c.parseName(fs, args, "organisations")
	if err != nil {
		return err
	}
	o := &sparcv1.Organisation{Name: orgName, Etag: etag}
	var paths []string
	set := flagsSet(fs)
	if set["name"] {
		o.DisplayName, paths = f.name, append(paths, "display_name")
	}
	if set["kind"] {
		if o.Kind, err = parseOrgKind(f.kind); err != nil {
			return err
		}
		paths = append(paths, "kind")
	}
	if set["email"] {
		o.ContactEmail, paths = f.email, append(paths, "contact_email")
	}
	if set["phone"] {
		o.ContactPhone, paths = f.phone, append(paths, "contact_phone")
	}
	if set["website"] {
		o.Website, paths = f.website, append(paths, "website")
	}
	if set["area"] {
		o.AreaCodes, paths = f.areas, append(paths, "area_codes")
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
	return c.printOrg(sparcv1.NewOrganisationServiceClient(c.conn).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
		Organisation: o, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}))
}

// printOrg prints the organisation a call answered with as a list of one
// (-o json too), or returns the call's error.
func (c *cli) printOrg(o *sparcv1.Organisation, err error) error {
	if err != nil {
		return err
	}
	return c.printOrgs(&sparcv1.ListOrganisationsResponse{Organisations: []*sparcv1.Organisation{o}})
}

func (c *cli) printOrgs(resp *sparcv1.ListOrganisationsResponse) error {
	return printList(c, resp, resp.GetOrganisations(), "NAME\tDISPLAY NAME\tKIND\tSTATUS\tAREAS", func(o *sparcv1.Organisation) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", o.GetName(), truncate(o.GetDisplayName(), 48),
			shortEnum(o.GetKind().String(), "ORGANISATION_KIND_"), shortEnum(o.GetStatus().String(), "ORGANISATION_STATUS_"),
			orDash(strings.Join(o.GetAreaCodes(), ",")))
	})
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
	return c.printResult(resp, "API key for %s (%s), shown only now; store it safely:\n%s\n", resp.GetApiKey().GetOrganisation(),
		shortEnum(resp.GetApiKey().GetRole().String(), "ROLE_"), resp.GetSecret())
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
	resp, err := listPages(ctx, &p, &sparcv1.ListApiKeysRequest{Organisation: nameOf("organisations", org), IncludeRevoked: revoked},
		sparcv1.NewApiKeyServiceClient(c.conn).ListApiKeys)
	if err != nil {
		return err
	}
	return printList(c, resp, resp.GetApiKeys(), "NAME\tPREFIX\tROLE\tORGANISATION\tCREATED\tLAST USED\tREVOKED\tNAME", func(k *sparcv1.ApiKey) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", k.GetName(), k.GetPrefix(), shortEnum(k.GetRole().String(), "ROLE_"),
			k.GetOrganisation(), formatTime(k.GetCreateTime()), formatTime(k.GetLastUsedTime()), formatTime(k.GetRevokeTime()),
			truncate(k.GetDisplayName(), 32))
	})
}

func keysRevoke(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "keys revoke", "keys revoke NAME (apiKeys/ID or ID)", "apiKeys",
		sparcv1.NewApiKeyServiceClient(c.conn).RevokeApiKey, func(k *sparcv1.ApiKey, err error) error {
			if err != nil {
				return err
			}
			return c.printResult(k, "revoked %s (%s)\n", k.GetName(), k.GetPrefix())
		})
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
	_, url, stop, err := openOwner(ctx, url, dataDir, fmt.Sprintf("stop it, or restart it with --bootstrap-admin %q", name))
	if err != nil {
		return err
	}
	defer stop()
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

// openOwner opens the database at url as its owner, migrated; with url ""
// the embedded one in dataDir, which it starts (and inUse says what to do
// when sparcd holds it). It returns the URL it opened; stop closes the
// pool and stops the database it started.
func openOwner(ctx context.Context, url, dataDir, inUse string) (owner *pgxpool.Pool, openedURL string, stop func(), err error) {
	stopCluster := func() {}
	if url == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dataDir, Database: "sparc"})
		if errors.Is(err, pgcluster.ErrInUse) {
			return nil, "", nil, fmt.Errorf("%w\n(sparcd is running on this data dir: %s)", err, inUse)
		}
		if err != nil {
			return nil, "", nil, err
		}
		stopCluster = func() { _ = cluster.Stop() }
		url = cluster.URL("sparc")
	}
	if owner, err = db.Open(ctx, url, 2); err == nil {
		if err = db.Migrate(ctx, owner); err != nil {
			owner.Close()
		}
	}
	if err != nil {
		stopCluster()
		return nil, "", nil, err
	}
	return owner, url, func() { owner.Close(); stopCluster() }, nil
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
	if req.StartTime, err = optionalTime("since", since); err != nil {
		return err
	}
	if req.EndTime, err = optionalTime("until", until); err != nil {
		return err
	}
	resp, err := listPages(ctx, &p, req, sparcv1.NewAuditServiceClient(c.conn).ListAuditEvents)
	if err != nil {
		return err
	}
	return printList(c, resp, resp.GetEvents(), "TIME\tPRINCIPAL\tROLE\tMETHOD\tRESOURCE\tOUTCOME\tCODE\tPEER", func(e *sparcv1.AuditEvent) string {
		m := e.GetMethod()
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", formatTime(e.GetTime()), e.GetPrincipal(),
			orDash(shortEnum(e.GetRole().String(), "ROLE_")), m[strings.LastIndex(m, "/")+1:], e.GetResource(),
			e.GetOutcome(), e.GetCode(), e.GetPeer())
	})
}
