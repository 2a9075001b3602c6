package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/oruk/orukclient"
)

func init() {
	register("import oruk", "import an Open Referral UK 3.0 feed (API or dump file) into the directory", importORUK)
	register("export oruk", "write the directory as an Open Referral UK 3.0 dump (JSON) to stdout", exportORUK)
}

var kindFlag = map[string]sparcv1.AssetKind{
	"individual": sparcv1.AssetKind_ASSET_KIND_INDIVIDUAL, "association": sparcv1.AssetKind_ASSET_KIND_ASSOCIATION,
	"institution": sparcv1.AssetKind_ASSET_KIND_INSTITUTION, "physical_space": sparcv1.AssetKind_ASSET_KIND_PHYSICAL_SPACE,
	"local_economy": sparcv1.AssetKind_ASSET_KIND_LOCAL_ECONOMY, "culture": sparcv1.AssetKind_ASSET_KIND_CULTURE,
}

// importORUK reads the feed here, in the client, maps it to assets and
// sends them in batches to DirectoryImportService, which validates and
// upserts each record and answers per record. The server never fetches
// URLs on a user's behalf.
func importORUK(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("import oruk")
	feedURL := fs.String("url", "", "ORUK API root to read (…/openreferral): paged /services, then /services/{id}")
	file := fs.String("file", "", "ORUK dump file (a page of services, an array of services or one service); - for stdin")
	source := fs.String("source", "", "name of the feed recorded on new assets (default: the URL, or the file's base name)")
	kind := fs.String("kind", "institution", "ABCD kind of services whose feed gives none")
	owner := fs.String("owner", "", "owner organisation of imported assets (also changes the owner of existing ones)")
	conc := fs.Int("concurrency", 4, "service detail requests at once (--url)")
	reqTimeout := fs.Duration("request-timeout", 30*time.Second, "time limit per HTTP request (--url)")
	perPage := fs.Int("per-page", 100, "services per list page asked for (--url)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if (*feedURL == "") == (*file == "") {
		return usagef("give exactly one of --url and --file")
	}
	k, ok := kindFlag[*kind]
	if !ok {
		return usagef("--kind %q is not one of individual, association, institution, physical_space, local_economy, culture", *kind)
	}
	if *conc < 1 || *conc > 64 || *perPage < 1 || *perPage > 1000 || *reqTimeout <= 0 {
		return usagef("--concurrency must be 1 to 64, --per-page 1 to 1000, --request-timeout positive")
	}
	var recs []orukclient.RawRecord
	var fetchErrs []orukclient.FetchError
	src := *source
	if *file != "" {
		b, err := readInput(c, *file)
		if err != nil {
			return fmt.Errorf("reading feed: %w", err)
		}
		if recs, err = orukclient.ParseDump(b); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		if src == "" {
			src = "file:" + filepath.Base(*file)
		}
	} else {
		f := &orukclient.Fetcher{Client: &http.Client{}, Concurrency: *conc, RequestTimeout: *reqTimeout, PerPage: *perPage}
		var err error
		if recs, fetchErrs, err = f.Fetch(ctx, *feedURL); err != nil {
			return fmt.Errorf("nothing imported: %w", err)
		}
		if src == "" {
			src = strings.TrimRight(*feedURL, "/")
		}
	}
	client := sparcv1.NewDirectoryImportServiceClient(c.conn)
	rep, err := orukclient.Import(ctx, recs, fetchErrs, orukclient.MapOptions{Source: src, DefaultKind: k, Owner: nameOf("organisations", *owner)}, *owner != "",
		func(ctx context.Context, req *sparcv1.UpsertSourcedAssetsRequest) (*sparcv1.UpsertSourcedAssetsResponse, error) {
			return client.UpsertSourcedAssets(ctx, req)
		})
	if rep != nil {
		if perr := printReport(c, rep); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if rep.Rejected > 0 {
		return fmt.Errorf("%d of the feed's records were not imported (see the report)", rep.Rejected)
	}
	return nil
}

func printReport(c *cli, rep *orukclient.Report) error {
	if c.output == "json" {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(c.out, "source %s: %d services read, %d assets: %d created, %d updated, %d unchanged; %d records rejected\n",
		rep.Source, rep.Services, rep.Assets, rep.Created, rep.Updated, rep.Unchanged, rep.Rejected)
	if n := len(rep.Organizations); n > 0 {
		// Imported services stay the importing organisation's: only the
		// network admin creates organisations (sparc orgs create).
		names := make([]string, 0, min(n, 5))
		for _, o := range rep.Organizations[:min(n, 5)] {
			names = append(names, fmt.Sprintf("%s (%d)", o.Name, o.Services))
		}
		more := ""
		if n > 5 {
			more = fmt.Sprintf(" and %d more (-o json lists them)", n-5)
		}
		fmt.Fprintf(c.out, "source organisations, imported as your organisation's listings: %s%s\n", strings.Join(names, ", "), more)
	}
	if len(rep.Problems) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SEVERITY\tRECORD\tPROBLEM")
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%s\t%s\t%s\n", p.Severity, p.Record, p.Message)
	}
	return w.Flush()
}

// exportORUK writes the directory as one ORUK page (see orukclient.Export).
func exportORUK(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("export oruk")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	n, err := orukclient.Export(ctx, c.out, sparcv1.NewAssetServiceClient(c.conn), sparcv1.NewOrganisationServiceClient(c.conn))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "exported %d services\n", n)
	return nil
}
