package orukclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/oruk"
)

// Export writes every asset (all statuses) as one ORUK page of fully
// nested services, reading through the public gRPC API. It streams: the
// page's contents come first and the counts after them (JSON objects are
// unordered), so the directory is never held in memory. ParseDump reads
// the result back.
func Export(ctx context.Context, w io.Writer, as sparcv1.AssetServiceClient, os sparcv1.OrganisationServiceClient) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	orgs := oruk.Orgs{}
	bw.WriteString(`{"contents":[`)
	n := 0
	req := &sparcv1.ListAssetsRequest{PageSize: 100}
	for {
		resp, err := as.ListAssets(ctx, req)
		if err != nil {
			return n, fmt.Errorf("listing assets after %d: %w", n, err)
		}
		for _, a := range resp.GetAssets() {
			if owner := strings.TrimPrefix(a.GetOwnerOrganisation(), "organisations/"); owner != "" { // oruk.Orgs is by id
				if _, seen := orgs[owner]; !seen {
					o, err := os.GetOrganisation(ctx, &sparcv1.GetOrganisationRequest{Name: a.GetOwnerOrganisation()})
					if err != nil {
						return n, fmt.Errorf("reading owner organisation %s: %w", owner, err)
					}
					orgs[owner] = oruk.OrgInfo{Name: o.GetDisplayName(), Website: o.GetWebsite()}
				}
			}
			b, err := json.Marshal(oruk.ServiceOf(a, orgs))
			if err != nil {
				return n, err
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
			bw.Write(b)
			n++
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	pages := 1
	if n == 0 {
		pages = 0
	}
	fmt.Fprintf(bw, "\n],\"total_items\":%d,\"total_pages\":%d,\"page_number\":1,\"size\":%d,\"first_page\":true,\"last_page\":true,\"empty\":%t}\n",
		n, pages, n, n == 0)
	return n, bw.Flush()
}
