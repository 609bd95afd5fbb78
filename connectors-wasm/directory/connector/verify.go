package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Checks and the controls they evidence.
const (
	CheckMFAEnforced    = "mfa_enforced"
	CheckNoStaleAdmins  = "no_stale_admins"
	CheckPasswordPolicy = "password_policy"

	ControlMFA           = "IAM-MFA"
	ControlAdminActivity = "IAM-ADMIN-ACTIVITY"
	ControlPassword      = "IAM-PASSWORD"
)

// Thresholds of the checks.
const (
	// DefaultStaleAdminDays: an admin who has not signed in for longer is
	// stale. The no_stale_admins params may set max_age_days (1..3650).
	DefaultStaleAdminDays = 90
	maxStaleAdminDays     = 3650
	// MinPasswordLength, MinPasswordHistory and MaxLockoutThreshold are
	// the password_policy bar. Composition rules are reported, not
	// required: NIST SP 800-63B advises against them.
	MinPasswordLength   = 12
	MinPasswordHistory  = 5
	MaxLockoutThreshold = 10
	// maxListedIDs bounds the ids an evidence value lists.
	maxListedIDs = 20
)

func checks() []protocol.Check {
	return []protocol.Check{
		{Name: CheckMFAEnforced, Control: ControlMFA,
			Description: "The tenant requires MFA of every user.", Scopes: []string{ScopeCompliance}},
		{Name: CheckNoStaleAdmins, Control: ControlAdminActivity,
			Description: "No active admin has gone more than 90 days (params max_age_days) without signing in.",
			Scopes:      []string{ScopeCompliance, ScopeUsers}},
		{Name: CheckPasswordPolicy, Control: ControlPassword,
			Description: "Passwords are at least 12 characters, the last 5 cannot be reused, and sign-ins lock out after at most 10 failures.",
			Scopes:      []string{ScopeCompliance}},
	}
}

// verify runs one check with GETs only: the host runs verify read-only
// and refuses anything else.
func verify(h *sdk.Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.VerifyResponse{}, err
	}
	switch req.Check {
	case CheckMFAEnforced:
		return mfaEnforced(h, base)
	case CheckNoStaleAdmins:
		days, err := staleDays(req.Params)
		if err != nil {
			return protocol.VerifyResponse{}, err
		}
		return noStaleAdmins(h, base, days)
	case CheckPasswordPolicy:
		return passwordPolicy(h, base)
	}
	return protocol.VerifyResponse{}, &sdk.TypedError{Type: sdk.ErrorTypeUnsupported, Err: fmt.Errorf("%w: %q", ErrUnknownCheck, req.Check)}
}

func result(pass bool, evidence map[string]string) (protocol.VerifyResponse, error) {
	status := protocol.VerifyFail
	if pass {
		status = protocol.VerifyPass
	}
	return protocol.VerifyResponse{Status: status, Evidence: evidence}, nil
}

func mfaEnforced(h *sdk.Host, base string) (protocol.VerifyResponse, error) {
	var r struct {
		Enforced    *bool  `json:"enforced"`
		ActiveUsers int    `json:"active_users"`
		Enrolled    int    `json:"enrolled"`
		NotEnrolled int    `json:"not_enrolled"`
		AsOf        string `json:"as_of"`
	}
	if err := h.GetJSON(base+"/api/v1/compliance/mfa", &r); err != nil {
		return protocol.VerifyResponse{}, err
	}
	if r.Enforced == nil {
		return protocol.VerifyResponse{}, fmt.Errorf("%w: MFA report without enforced", ErrBadRemote)
	}
	return result(*r.Enforced, map[string]string{
		"enforced":     strconv.FormatBool(*r.Enforced),
		"active_users": strconv.Itoa(r.ActiveUsers),
		"enrolled":     strconv.Itoa(r.Enrolled),
		"not_enrolled": strconv.Itoa(r.NotEnrolled),
		"as_of":        r.AsOf,
	})
}

// staleDays reads the optional {"max_age_days": n} of no_stale_admins.
func staleDays(raw json.RawMessage) (int, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return DefaultStaleAdminDays, nil
	}
	var p struct {
		MaxAgeDays *int `json:"max_age_days"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return 0, &sdk.TypedError{Type: sdk.ErrorTypeBadInput, Err: fmt.Errorf("%w: %s: %v", ErrBadParams, CheckNoStaleAdmins, err)}
	}
	if p.MaxAgeDays == nil {
		return DefaultStaleAdminDays, nil
	}
	if *p.MaxAgeDays < 1 || *p.MaxAgeDays > maxStaleAdminDays {
		return 0, &sdk.TypedError{Type: sdk.ErrorTypeBadInput, Err: fmt.Errorf("%w: %s: max_age_days %d is outside 1..%d", ErrBadParams, CheckNoStaleAdmins, *p.MaxAgeDays, maxStaleAdminDays)}
	}
	return *p.MaxAgeDays, nil
}

// noStaleAdmins judges staleness against the report's as_of, the
// remote's now: the verdict depends on the recorded answer only, so a
// replay from the tape gives the same one.
func noStaleAdmins(h *sdk.Host, base string, days int) (protocol.VerifyResponse, error) {
	var r struct {
		AsOf string `json:"as_of"`
		Data []struct {
			ID          string `json:"id"`
			Status      string `json:"status"`
			LastLoginAt string `json:"last_login_at"`
		} `json:"data"`
	}
	if err := h.GetJSON(base+"/api/v1/compliance/admins", &r); err != nil {
		return protocol.VerifyResponse{}, err
	}
	asOf, err := time.Parse(time.RFC3339, r.AsOf)
	if err != nil {
		return protocol.VerifyResponse{}, fmt.Errorf("%w: admin report as_of %q", ErrBadRemote, r.AsOf)
	}
	cutoff := asOf.Add(-time.Duration(days) * 24 * time.Hour)
	var stale []string
	active := 0
	for _, a := range r.Data {
		if a.Status != "active" {
			continue // a suspended admin cannot sign in: not a dormant risk
		}
		active++
		at, err := time.Parse(time.RFC3339, a.LastLoginAt)
		if err != nil || at.Before(cutoff) {
			stale = append(stale, a.ID) // never signed in counts as stale
		}
	}
	listed := stale
	if len(listed) > maxListedIDs {
		listed = listed[:maxListedIDs]
	}
	return result(len(stale) == 0, map[string]string{
		"active_admins":   strconv.Itoa(active),
		"stale_admins":    strconv.Itoa(len(stale)),
		"stale_ids":       strings.Join(listed, ","),
		"max_age_days":    strconv.Itoa(days),
		"as_of":           r.AsOf,
		"signed_in_after": cutoff.Format(time.RFC3339),
	})
}

func passwordPolicy(h *sdk.Host, base string) (protocol.VerifyResponse, error) {
	var p struct {
		MinLength        *int `json:"min_length"`
		RequireUppercase bool `json:"require_uppercase"`
		RequireLowercase bool `json:"require_lowercase"`
		RequireNumber    bool `json:"require_number"`
		RequireSymbol    bool `json:"require_symbol"`
		MaxAgeDays       int  `json:"max_age_days"`
		HistoryCount     int  `json:"history_count"`
		LockoutThreshold int  `json:"lockout_threshold"`
	}
	if err := h.GetJSON(base+"/api/v1/compliance/password-policy", &p); err != nil {
		return protocol.VerifyResponse{}, err
	}
	if p.MinLength == nil {
		return protocol.VerifyResponse{}, fmt.Errorf("%w: password policy without min_length", ErrBadRemote)
	}
	var failed []string
	if *p.MinLength < MinPasswordLength {
		failed = append(failed, "min_length")
	}
	if p.HistoryCount < MinPasswordHistory {
		failed = append(failed, "history_count")
	}
	if p.LockoutThreshold < 1 || p.LockoutThreshold > MaxLockoutThreshold {
		failed = append(failed, "lockout_threshold")
	}
	return result(len(failed) == 0, map[string]string{
		"min_length":        strconv.Itoa(*p.MinLength),
		"history_count":     strconv.Itoa(p.HistoryCount),
		"lockout_threshold": strconv.Itoa(p.LockoutThreshold),
		"max_age_days":      strconv.Itoa(p.MaxAgeDays),
		"require_uppercase": strconv.FormatBool(p.RequireUppercase),
		"require_lowercase": strconv.FormatBool(p.RequireLowercase),
		"require_number":    strconv.FormatBool(p.RequireNumber),
		"require_symbol":    strconv.FormatBool(p.RequireSymbol),
		"failed":            strings.Join(failed, ","),
	})
}
