package schema

import (
	"reflect"
	"testing"
)

// ForMaintenance: without maintenance the target itself; with it, the
// maintenance's URL, and its Secret under the keys of the target's own
// credentials; the restic password stays.
func TestForMaintenance(t *testing.T) {
	base := Target{Restic: ResticTarget{
		Repository:     "s3:https://s3.example.org/b/r",
		PasswordSecret: SecretKeyRef{Name: "pw", Key: "password"},
		S3Credentials:  &S3Credentials{AccessKeyID: SecretKeyRef{Name: "s3", Key: "id"}, SecretAccessKey: SecretKeyRef{Name: "s3", Key: "secret"}},
	}}
	if got := base.ForMaintenance(); !reflect.DeepEqual(got, base) {
		t.Errorf("without maintenance: %+v, want the target itself", got)
	}
	withM := base
	withM.Restic.Maintenance = &ResticMaintenance{CredentialsSecret: "s3-maint"}
	got := withM.ForMaintenance()
	want := base
	want.Restic.S3Credentials = &S3Credentials{AccessKeyID: SecretKeyRef{Name: "s3-maint", Key: "id"}, SecretAccessKey: SecretKeyRef{Name: "s3-maint", Key: "secret"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("S3: %+v, want %+v", got.Restic, want.Restic)
	}
	if withM.Restic.S3Credentials.AccessKeyID.Name != "s3" {
		t.Error("ForMaintenance changed the target's own credentials")
	}
	rest := Target{Restic: ResticTarget{
		Repository:      "rest:https://r.example.org/x",
		PasswordSecret:  SecretKeyRef{Name: "pw", Key: "password"},
		RESTCredentials: &RESTCredentials{Username: SecretKeyRef{Name: "rest", Key: "user"}, Password: SecretKeyRef{Name: "rest", Key: "pass"}},
		Maintenance:     &ResticMaintenance{CredentialsSecret: "rest-maint", Repository: "rest:https://m.example.org/x"},
	}}
	got = rest.ForMaintenance()
	if got.Restic.Repository != "rest:https://m.example.org/x" || *got.Restic.RESTCredentials != (RESTCredentials{Username: SecretKeyRef{Name: "rest-maint", Key: "user"}, Password: SecretKeyRef{Name: "rest-maint", Key: "pass"}}) || got.Restic.PasswordSecret != rest.Restic.PasswordSecret || got.Restic.Maintenance != nil {
		t.Errorf("REST: %+v", got.Restic)
	}
}
