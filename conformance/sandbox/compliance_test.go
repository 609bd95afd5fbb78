package sandbox_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func TestComplianceDefaultsAreCompliant(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{Users: 1000, Clock: clock.Now})
	mfa := decode[sandbox.MFAReport](t, c.get("/api/v1/compliance/mfa").ok(t).body)
	users := walk[sandbox.User](t, c, "/api/v1/users?limit=1000")
	active, enrolled := 0, 0
	for _, u := range users {
		if u.Status == sandbox.StatusActive {
			active++
			if u.MFAEnrolled {
				enrolled++
			}
		}
	}
	if !mfa.Enforced || mfa.ActiveUsers != active || mfa.Enrolled != enrolled || mfa.NotEnrolled != active-enrolled || !mfa.AsOf.Equal(clock.Now()) {
		t.Errorf("mfa %+v; listing says %d active, %d enrolled", mfa, active, enrolled)
	}

	admins := decode[sandbox.AdminReport](t, c.get("/api/v1/compliance/admins").ok(t).body)
	wantAdmins := 0
	for _, u := range users {
		if u.IsAdmin {
			wantAdmins++
		}
	}
	if wantAdmins == 0 || len(admins.Data) != wantAdmins {
		t.Fatalf("%d admins reported, %d in the listing", len(admins.Data), wantAdmins)
	}
	for _, a := range admins.Data {
		if age := admins.AsOf.Sub(a.LastLoginAt); age < 0 || age > 24*time.Hour {
			t.Errorf("admin %s last signed in %v before as_of", a.ID, age)
		}
	}
	if p := decode[sandbox.PasswordPolicy](t, c.get("/api/v1/compliance/password-policy").ok(t).body); p != sandbox.DefaultPasswordPolicy {
		t.Errorf("policy %+v", p)
	}
	if s.MFA() != mfa {
		t.Error("MFA() differs from the endpoint")
	}
}

func TestComplianceKnobsMakeChecksFail(t *testing.T) {
	weak := sandbox.PasswordPolicy{MinLength: 8}
	s, c := start(t, sandbox.Config{Users: 1000, Compliance: sandbox.Compliance{MFANotEnforced: true, StaleAdmins: true, PasswordPolicy: &weak}})
	if mfa := decode[sandbox.MFAReport](t, c.get("/api/v1/compliance/mfa").ok(t).body); mfa.Enforced {
		t.Error("MFANotEnforced still enforced")
	}
	if p := decode[sandbox.PasswordPolicy](t, c.get("/api/v1/compliance/password-policy").ok(t).body); p != weak {
		t.Errorf("policy %+v, want %+v", p, weak)
	}
	admins := decode[sandbox.AdminReport](t, c.get("/api/v1/compliance/admins").ok(t).body)
	for _, a := range admins.Data {
		u, err := s.User(a.ID)
		if err != nil || !a.LastLoginAt.Equal(u.LastLoginAt) {
			t.Errorf("stale admin %s reported at %v, directory says %v", a.ID, a.LastLoginAt, u.LastLoginAt)
		}
	}

	// At run time, and one stale admin made by a patch in a compliant tenant.
	s.SetCompliance(sandbox.Compliance{})
	if _, err := s.UpdateUser("u-0000001", map[string]any{"is_admin": true, "last_login_at": "2024-01-01T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	stale := 0
	for _, a := range decode[sandbox.AdminReport](t, c.get("/api/v1/compliance/admins").ok(t).body).Data {
		if admins.AsOf.Sub(a.LastLoginAt) > 90*24*time.Hour {
			stale++
			if a.ID != "u-0000001" {
				t.Errorf("unexpected stale admin %s", a.ID)
			}
		}
	}
	if stale != 1 {
		t.Errorf("%d stale admins, want the patched one", stale)
	}
	// Deactivated users drop out of the MFA counts.
	var id string
	for _, u := range walk[sandbox.User](t, c, "/api/v1/users?limit=50") {
		if u.Status == sandbox.StatusActive {
			id = u.ID
			break
		}
	}
	before := s.MFA().ActiveUsers
	c.postJSON("/api/v1/users/"+id+"/deactivate", "").ok(t)
	c.postJSON("/api/v1/users/"+id+"/deactivate", "").ok(t)
	if after := s.MFA().ActiveUsers; after != before-1 {
		t.Errorf("active users %d → %d after deactivating %s", before, after, id)
	}
}
