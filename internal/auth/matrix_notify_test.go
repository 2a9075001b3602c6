package auth_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func nc(c *grpc.ClientConn) sparcv1.NotificationServiceClient {
	return sparcv1.NewNotificationServiceClient(c)
}

// NotificationService: an organisation's own email settings, for its
// admin only; anyone else (another organisation's admin, the network
// admin, other roles) finds none.
func notificationRows() []matrixRow {
	target := func(_ *testing.T, f *fixture, target string) string { return f.org(target) }
	name := func(org string) string { return "organisations/" + org + "/emailNotificationSettings" }
	only := table(writeOwned, allNF, allNF, allNF, allNF, allUnauth)
	return []matrixRow{
		{"/sparc.v1.NotificationService/GetEmailNotificationSettings", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := nc(c).GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name(org)})
				return err
			},
			http:  func(org string) (string, string, any) { return "GET", "/v1/" + name(org), nil },
			setup: target,
		}, only},
		{"/sparc.v1.NotificationService/UpdateEmailNotificationSettings", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := nc(c).UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
					Settings:   &sparcv1.EmailNotificationSettings{Name: name(org), Enabled: true, LanguageCode: "en"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enabled", "language_code"}}})
				return err
			},
			http: func(org string) (string, string, any) {
				return "PATCH", "/v1/" + name(org) + "?update_mask=enabled,language_code", map[string]any{"enabled": true, "language_code": "en"}
			},
			setup: target,
		}, only},
	}
}
