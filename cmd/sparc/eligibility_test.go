package main

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestAgeOverrideFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	lwOrg := env.NewOrg(t, "Ladywood link workers", "link_worker_service")
	groupOrg := env.NewOrg(t, "Saltley adult choir", "community_group")
	lw := target{addr: env.Server.GRPCAddr(), key: env.Key(t, lwOrg, auth.RoleLinkWorker)}
	group := target{addr: env.Server.GRPCAddr(), key: env.Key(t, groupOrg, auth.RoleGroupEditor)}
	asset, err := env.AssetsOf(t, groupOrg).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Saltley adult choir", AcceptingReferrals: true,
		AgeRange: &sparcv1.AgeRange{MinAge: proto.Int32(18)}, OwnerOrganisation: "organisations/" + groupOrg,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	person := decode(t, mustSparc(t, lw, "people", "create", "--name", "T. S.", "--age-band", "16-17", "--consent", "basic,notes",
		"-o", "json"), &sparcv1.Person{})
	refused := sparc(t, lw, "referrals", "create", "--person", person.GetName(), "--asset", asset.GetName(), "--request-id", "cli-age")
	if refused.code != exitFailure || !strings.Contains(refused.stderr, "FAILED_PRECONDITION") || !strings.Contains(refused.stderr, "takes ages 18+") {
		t.Fatalf("a 16-year-old to an 18+ choir: exit %d, stderr:\n%s", refused.code, refused.stderr)
	}
	out := mustSparc(t, lw, "referrals", "create", "--person", person.GetName(), "--asset", asset.GetName(), "--request-id", "cli-age",
		"--override-reason", "Sings with her father, who is a member")
	if !strings.Contains(out, "age check overridden") || !strings.Contains(out, "Sings with her father") {
		t.Fatalf("created with an override:\n%s", out)
	}
	name := strings.Fields(strings.SplitN(out, "\n", 2)[0])[1]
	if seen := mustSparc(t, group, "referrals", "get", name); !strings.Contains(seen, "age check overridden") || strings.Contains(seen, "father") {
		t.Fatalf("the provider should see that the check was overridden, not why:\n%s", seen)
	}
}
