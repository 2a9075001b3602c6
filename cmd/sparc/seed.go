package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/demo"
)

func init() {
	register("seed-demo", "load the demo directory (clearly marked demo assets) through the API; safe to repeat", seedDemo)
}

// seedDemo creates every demo asset under its fixed id, so a second run
// finds them all present (ALREADY_EXISTS) and adds nothing. It goes through
// CreateAsset rather than the database so it works against any sparcd and
// the server validates and authorises each listing like any other: the
// assets belong to the key's own organisation (an admin's by default, a
// group editor's with --owner).
func seedDemo(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("seed-demo"), "--key KEY seed-demo [--owner ORG_ID] [--concurrency N]")
	concurrency := fs.Int("concurrency", 8, "requests in flight at once")
	owner := fs.String("owner", "", "organisation (organisations/UUID or the UUID) to own the demo assets (yours); default an admin key's own organisation, else the demo organisation of sparcd --demo")
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *concurrency < 1 || *concurrency > 64 {
		return usagef("--concurrency must be between 1 and 64")
	}
	all, err := demo.Assets()
	if err != nil {
		return fmt.Errorf("building the demo directory: %w", err)
	}
	if *owner == "" {
		if *owner, err = demoOwner(ctx, c); err != nil {
			return err
		}
	}
	*owner = nameOf("organisations", *owner)
	client := sparcv1.NewAssetServiceClient(c.conn)
	// Skip what the owner already has: a repeat run then costs a few list
	// calls, not one refused create per asset (writes are rate limited).
	have, err := ownedNames(ctx, client, *owner)
	if err != nil {
		return fmt.Errorf("listing the demo organisation's assets: %w", err)
	}
	var todo []*sparcv1.Asset
	present := 0
	for _, a := range all {
		a.OwnerOrganisation = *owner
		if have[a.GetName()] {
			present++
		} else {
			todo = append(todo, a)
		}
	}
	created, already, err := createAll(ctx, client, todo, *concurrency)
	present += already
	if err != nil {
		return fmt.Errorf("after %d created and %d already present: %w", created, present, err)
	}
	if c.output == "json" {
		s, err := structpb.NewStruct(map[string]any{
			"demo_assets": len(all), "created": created, "already_present": present, "owner_organisation": *owner,
		})
		if err != nil {
			return err
		}
		return c.printJSON(s)
	}
	_, err = fmt.Fprintf(c.out, "demo directory: %d assets, %d created, %d already present\n", len(all), created, present)
	return err
}

// demoOwner returns the organisation to own the demo directory: an
// organisation's admin writes only its own organisation's assets, so an
// admin key seeds its own organisation (the one all its listed keys
// belong to); other keys seed the demo organisation sparcd --demo creates
// (fixed id), which only that organisation's editors may write.
func demoOwner(ctx context.Context, c *cli) (string, error) {
	keys, err := sparcv1.NewApiKeyServiceClient(c.conn).ListApiKeys(ctx, &sparcv1.ListApiKeysRequest{PageSize: 100})
	switch {
	case err == nil:
		org := ""
		for _, k := range keys.GetApiKeys() {
			if org != "" && strings.TrimPrefix(k.GetOrganisation(), "organisations/") != org {
				return "", usagef("this key sees several organisations' keys (a network admin, who writes no assets): use an organisation's admin or group editor key")
			}
			org = strings.TrimPrefix(k.GetOrganisation(), "organisations/") // the id, as --owner takes it
		}
		if org != "" {
			return org, nil
		}
	case status.Code(err) != codes.PermissionDenied:
		return "", fmt.Errorf("finding the key's organisation: %w", err)
	}
	if _, err := sparcv1.NewOrganisationServiceClient(c.conn).GetOrganisation(ctx, &sparcv1.GetOrganisationRequest{Name: "organisations/" + demo.Owner}); err == nil {
		return demo.Owner, nil
	} else if status.Code(err) != codes.NotFound {
		return "", fmt.Errorf("looking up the demo organisation: %w", err)
	}
	return "", usagef("no demo organisation on this server: give --owner ORG_ID, your organisation's id")
}

// ownedNames returns the names of every asset owned by org (a name).
func ownedNames(ctx context.Context, client sparcv1.AssetServiceClient, org string) (map[string]bool, error) {
	req := &sparcv1.ListAssetsRequest{OwnerOrganisation: org, PageSize: 100}
	list, _, err := collect(&pageFlags{all: true}, func(token string) ([]*sparcv1.Asset, string, error) {
		req.PageToken = token
		resp, err := client.ListAssets(ctx, req)
		return resp.GetAssets(), resp.GetNextPageToken(), err
	})
	names := make(map[string]bool, len(list))
	for _, a := range list {
		names[a.GetName()] = true
	}
	return names, err
}

// createAll creates the assets with at most `workers` calls in flight and
// stops at the first error other than ALREADY_EXISTS.
func createAll(ctx context.Context, client sparcv1.AssetServiceClient, assets []*sparcv1.Asset, workers int) (created, present int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *sparcv1.Asset)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				// The demo fixes each asset's name; the request takes its id.
				_, err := client.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a, AssetId: strings.TrimPrefix(a.GetName(), "assets/")})
				mu.Lock()
				switch {
				case err == nil:
					created++
				case status.Code(err) == codes.AlreadyExists:
					present++
				case firstErr == nil:
					firstErr = fmt.Errorf("demo asset %s (%s): %w", a.GetName(), a.GetDisplayName(), err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, a := range assets {
		select {
		case jobs <- a:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		// Interrupted or timed out (not cancelled by a worker).
		firstErr = ctx.Err()
	}
	return created, present, firstErr
}
