package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Marketplace certification records, on the Platform handle. Keys,
// relative to p/ (testdata/golden_certification pins the exact bytes):
//
//	cert/c/{connector}/{version}  Certification, JSON: the level a submission reached, who
//	                              submitted, when; the latest submission of the version wins.
//	cert/r/{connector}/{version}  the submission's conformance report, raw bytes (package
//	                              conformance/report's JSON format), written with the record.
//
// PutCertification also sets the version record's Certification field
// (reg/v/{connector}/{version}, store/registry.go) in the same
// transaction: a registry version is write-once in everything it was
// uploaded with; its level is the one thing a submission changes.
const (
	kCertRecord = "cert/c/"
	kCertReport = "cert/r/"
)

// maxReportBytes bounds a stored report; the directory example's full
// report is well under 100 KiB.
const maxReportBytes = 8 << 20

// Certification is the outcome of a marketplace submission of one
// connector version.
type Certification struct {
	Connector string `json:"connector"`
	Version   string `json:"version"`
	// Submission is the id of the submission that produced the record.
	Submission string `json:"submission"`
	// Level is the highest level reached: bronze, silver, gold, or none.
	Level        string    `json:"level"`
	ModuleDigest string    `json:"module_digest"`
	SubmittedBy  string    `json:"submitted_by"`
	SubmittedAt  time.Time `json:"submitted_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
}

// PutCertification stores c and its report and sets the version's
// Certification to c.Level ("" for none) in one transaction. The version
// must exist (ErrNotFound otherwise).
func (p *Platform) PutCertification(ctx context.Context, c Certification, report []byte) error {
	err := firstErr(checkID("certification.connector", c.Connector), checkName("certification.version", c.Version),
		checkName("certification.submission", c.Submission), checkOwnerName("certification.submitted_by", c.SubmittedBy),
		checkDigest("certification.module_digest", c.ModuleDigest))
	if err != nil {
		return err
	}
	switch c.Level {
	case "none", "bronze", "silver", "gold":
	default:
		return invalid("certification.level", c.Level, "must be none, bronze, silver or gold")
	}
	if len(report) == 0 || len(report) > maxReportBytes || !json.Valid(report) {
		return invalid("report", "", fmt.Sprintf("must be a JSON document of at most %d bytes", maxReportBytes))
	}
	c.SubmittedAt, c.FinishedAt = c.SubmittedAt.UTC(), c.FinishedAt.UTC()
	val, err := marshal(&c)
	if err != nil {
		return invalid("certification", c.Connector, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := p.t
	return t.db.update("put certification", func(txn *badger.Txn) error {
		vkey := t.key(kRegVersion, c.Connector, c.Version)
		item, err := txn.Get(vkey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return notFound("registry version", c.Connector+"@"+c.Version)
		}
		if err != nil {
			return err
		}
		var v RegistryVersion
		if err := item.Value(func(b []byte) error { return unmarshal(b, &v) }); err != nil {
			return err
		}
		if v.ModuleDigest != c.ModuleDigest {
			return invalid("certification.module_digest", c.ModuleDigest, "must be the version's module digest "+v.ModuleDigest)
		}
		v.Certification = c.Level
		if c.Level == "none" {
			v.Certification = ""
		}
		vval, err := marshal(&v)
		if err != nil {
			return err
		}
		if err := txn.Set(vkey, vval); err != nil {
			return err
		}
		if err := txn.Set(t.key(kCertRecord, c.Connector, c.Version), val); err != nil {
			return err
		}
		return txn.Set(t.key(kCertReport, c.Connector, c.Version), report)
	})
}

// Certification returns the record of a version; ErrNotFound if it was
// never submitted to the end.
func (p *Platform) Certification(ctx context.Context, connector, version string) (Certification, error) {
	var c Certification
	if err := firstErr(checkID("connector", connector), checkName("version", version)); err != nil {
		return c, err
	}
	err := p.t.getJSON(ctx, p.t.key(kCertRecord, connector, version), "certification", connector+"@"+version, &c)
	return c, err
}

// CertificationReport returns the stored report of a version;
// ErrNotFound if there is none.
func (p *Platform) CertificationReport(ctx context.Context, connector, version string) ([]byte, error) {
	if err := firstErr(checkID("connector", connector), checkName("version", version)); err != nil {
		return nil, err
	}
	return p.t.getBytes(ctx, p.t.key(kCertReport, connector, version), "certification report", connector+"@"+version)
}

// Certifications returns every certification record in key order
// (connector, then version as bytes, not semver); reports are not read.
func (p *Platform) Certifications(ctx context.Context) ([]Certification, error) {
	return scanRegistry[Certification](ctx, p.t, p.t.prefixOf(kCertRecord))
}
