package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/manifest"
)

// The files of a bundle.
const (
	fileModule   = "module.wasm"
	fileManifest = "connector.json"
	dirRunbooks  = "runbooks/"
	fieldBundle  = "bundle" // the Field of a problem with the body as a whole
)

// Size limits of a bundle.
const (
	// DefaultMaxBundleBytes is the limit ParseBundle applies when given
	// maxBytes <= 0.
	DefaultMaxBundleBytes = 64 << 20
	// MaxRunbookBytes is the largest runbook.
	MaxRunbookBytes = 256 << 10
	// MaxRunbooks is the most runbooks a bundle may hold.
	MaxRunbooks = 256
	// tarOverhead is what the decompressed archive may hold beyond
	// maxBytes of file content: headers, padding, directory entries.
	tarOverhead = 4 << 20
	// maxEntries bounds the archive's entries (files and directories).
	maxEntries = 2 + MaxRunbooks + 64
	// maxProblems bounds the problems one parse reports.
	maxProblems = 32
)

// Bundle is what a partner uploads: the module, its manifest and the
// runbooks the manifest names.
type Bundle struct {
	Module   []byte
	Manifest []byte
	// Runbooks maps a path as the manifest names it ("runbooks/auth.md")
	// to the runbook's Markdown.
	Runbooks map[string][]byte
}

// Digest identifies the bundle's content: the SHA-256 over the digests
// of its files, each with its path, in a fixed order. Two bundles with
// the same files have the same digest however they were packed.
func (b *Bundle) Digest() string {
	h := sha256.New()
	file := func(path string, data []byte) {
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s\x00%x\n", path, sum)
	}
	file(fileModule, b.Module)
	file(fileManifest, b.Manifest)
	paths := make([]string, 0, len(b.Runbooks))
	for p := range b.Runbooks {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		file(p, b.Runbooks[p])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ParseBundle reads a bundle from an upload body of the given Content-Type:
//
//   - application/gzip (also application/x-gzip, application/tar+gzip,
//     application/x-tar+gzip, application/x-compressed-tar): a tar.gz
//     holding module.wasm, connector.json and runbooks/*.md at its root
//     (a leading "./" is accepted);
//   - multipart/form-data: parts as ParseMultipart reads them;
//   - empty or application/octet-stream: tar.gz, if the body starts as
//     gzip does.
//
// At most maxBytes are read from r (DefaultMaxBundleBytes if
// maxBytes <= 0), and the files may hold at most maxBytes in all. It
// refuses absolute or ".." paths, links and other non-regular files,
// duplicate entries, unknown files, oversized and empty files, and a
// bundle without module.wasm or connector.json. The error is an *Error
// (ErrBadBundle, ErrTooLarge or ErrUnsupportedMediaType) listing every
// problem with the file it concerns.
func ParseBundle(r io.Reader, contentType string, maxBytes int64) (*Bundle, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBundleBytes
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "", nil
	}
	if err != nil {
		return nil, unsupported(contentType, err.Error())
	}
	body := &capReader{r: r, left: maxBytes}
	switch mt {
	case "application/gzip", "application/x-gzip", "application/tar+gzip", "application/x-tar+gzip", "application/x-compressed-tar":
		return parseTarGz(body, maxBytes)
	case "", "application/octet-stream":
		br := bufio.NewReader(body)
		if magic, _ := br.Peek(2); !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
			if errors.Is(body.err, errCapExceeded) {
				return nil, tooLarge(maxBytes)
			}
			return nil, malformed("the body is not a tar.gz (no gzip header); send application/gzip or multipart/form-data")
		}
		return parseTarGz(br, maxBytes)
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, unsupported(contentType, "multipart/form-data needs a boundary parameter")
		}
		b, err := ParseMultipart(multipart.NewReader(body, params["boundary"]), maxBytes)
		if err != nil && errors.Is(body.err, errCapExceeded) {
			return nil, tooLarge(maxBytes)
		}
		return b, err
	}
	return nil, unsupported(contentType, "send application/gzip (a tar.gz) or multipart/form-data")
}

func parseTarGz(r io.Reader, maxBytes int64) (*Bundle, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, readErr(err, maxBytes, "not a gzip stream: %v", err)
	}
	// Bound the decompressed stream too: a small body can inflate to
	// any size.
	plain := &capReader{r: gz, left: maxBytes + tarOverhead}
	tr := tar.NewReader(plain)
	a := newAssembler(maxBytes)
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readErr(err, maxBytes, "not a valid tar archive: %v", err)
		}
		if entries == maxEntries {
			fe := fieldErr(fieldBundle, CodeTooLarge, "the archive has more than %d entries", maxEntries)
			return nil, newError(ErrTooLarge, CodeTooLarge, "bundle too large", fe)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue // PAX metadata for the archive, not a file
		case tar.TypeDir:
			a.dir(hdr.Name)
			continue
		case tar.TypeReg: // the reader reports old TypeRegA files as TypeReg
		default:
			a.problem(fieldErr(entryField(hdr.Name), CodeNotRegularFile, "%s is a %s, only regular files are allowed", quoteName(hdr.Name), typeName(hdr.Typeflag)))
			continue
		}
		if err := a.add(hdr.Name, hdr.Size, tr); err != nil {
			return nil, readErr(err, maxBytes, "reading %s: %v", quoteName(hdr.Name), err)
		}
		if a.full() {
			break
		}
	}
	// Read to the end so gzip checks its CRC: a corrupt archive is
	// refused even if its damage lies past the last entry.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return nil, readErr(err, maxBytes, "the archive is corrupt: %v", err)
	}
	return a.finish()
}

// ParseMultipart reads a bundle from multipart/form-data parts. A part's
// form name is its path: "module.wasm" (or "module"), "connector.json"
// (or "manifest"), "runbooks/NAME.md"; a part named "runbooks" takes
// its path from its file name. The files may hold at most maxBytes in
// all (DefaultMaxBundleBytes if maxBytes <= 0); the caller bounds the
// body itself (ParseBundle does). Errors are as ParseBundle's.
func ParseMultipart(mr *multipart.Reader, maxBytes int64) (*Bundle, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBundleBytes
	}
	a := newAssembler(maxBytes)
	for i := 0; !a.full(); i++ {
		p, err := mr.NextRawPart() // raw: a Content-Transfer-Encoding is not ours to undo
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readErr(err, maxBytes, "not a valid multipart body: %v", err)
		}
		if i == maxEntries {
			fe := fieldErr(fieldBundle, CodeTooLarge, "the body has more than %d parts", maxEntries)
			return nil, newError(ErrTooLarge, CodeTooLarge, "bundle too large", fe)
		}
		name := partPath(p)
		if name == "" {
			a.problem(fieldErr(fmt.Sprintf("%s/part[%d]", fieldBundle, i), CodeUnknownFile, "a part without a form name; name parts module.wasm, connector.json or runbooks/NAME.md"))
			continue
		}
		if err := a.add(name, -1, p); err != nil {
			return nil, readErr(err, maxBytes, "reading part %s: %v", quoteName(name), err)
		}
	}
	return a.finish()
}

func partPath(p *multipart.Part) string {
	switch name := p.FormName(); name {
	case "module":
		return fileModule
	case "manifest":
		return fileManifest
	case "runbooks", "runbook":
		if f := p.FileName(); f != "" {
			return dirRunbooks + f
		}
		return name
	default:
		return name
	}
}

// assembler applies the rules of a bundle to its files, whichever
// container they came in.
type assembler struct {
	max   int64 // file bytes in all
	total int64
	b     Bundle
	seen  map[string]bool
	errs  []FieldError
}

func newAssembler(max int64) *assembler {
	return &assembler{max: max, seen: map[string]bool{}, b: Bundle{Runbooks: map[string][]byte{}}}
}

func (a *assembler) problem(fe FieldError) {
	if len(a.errs) < maxProblems {
		a.errs = append(a.errs, fe)
	}
}

// full reports whether enough problems were found to stop reading.
func (a *assembler) full() bool { return len(a.errs) >= maxProblems }

// dir accepts the directory entries a tar of the bundle may hold.
func (a *assembler) dir(name string) {
	clean, fe := cleanPath(name)
	switch {
	case fe != nil:
		a.problem(*fe)
	case clean == "", clean == "runbooks":
	default:
		a.problem(fieldErr(entryField(name), CodeUnknownFile, "unexpected directory %s; a bundle holds module.wasm, connector.json and runbooks/*.md", quoteName(name)))
	}
}

// add reads one file. size is the declared size, -1 if unknown. It
// returns an error only when reading fails; a refused file is a problem.
func (a *assembler) add(name string, size int64, r io.Reader) error {
	clean, fe := cleanPath(name)
	if fe != nil {
		a.problem(*fe)
		return nil
	}
	limit, ok := a.limitOf(clean)
	if !ok {
		a.problem(fieldErr(entryField(clean), CodeUnknownFile, "unknown file %s; a bundle holds module.wasm, connector.json and runbooks/NAME.md (NAME of [A-Za-z0-9_.-])", quoteName(clean)))
		return nil
	}
	if a.seen[clean] {
		a.problem(fieldErr(clean, CodeDuplicateEntry, "%s appears more than once", clean))
		return nil
	}
	a.seen[clean] = true
	if size > limit {
		a.problem(fieldErr(clean, CodeTooLarge, "%s is %d bytes, the limit is %d", clean, size, limit))
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		a.problem(fieldErr(clean, CodeTooLarge, "%s is over its limit of %d bytes", clean, limit))
		return nil
	}
	if a.total += int64(len(data)); a.total > a.max {
		return errCapExceeded
	}
	if len(data) == 0 {
		a.problem(fieldErr(clean, CodeEmptyFile, "%s is empty", clean))
		return nil
	}
	switch {
	case clean == fileModule:
		a.b.Module = data
	case clean == fileManifest:
		a.b.Manifest = data
	default:
		a.b.Runbooks[clean] = data
	}
	return nil
}

// limitOf returns the size limit of a bundle path; false if the path is
// not one a bundle may hold.
func (a *assembler) limitOf(p string) (int64, bool) {
	switch {
	case p == fileModule:
		return a.max, true
	case p == fileManifest:
		return manifest.MaxSize, true
	case validRunbookPath(p):
		if len(a.b.Runbooks) >= MaxRunbooks {
			return 0, false
		}
		return MaxRunbookBytes, true
	}
	return 0, false
}

func (a *assembler) finish() (*Bundle, error) {
	if !a.seen[fileModule] {
		a.problem(fieldErr(fileModule, CodeMissingFile, "the bundle has no module.wasm"))
	}
	if !a.seen[fileManifest] {
		a.problem(fieldErr(fileManifest, CodeMissingFile, "the bundle has no connector.json"))
	}
	if len(a.errs) == 0 {
		return &a.b, nil
	}
	kind := ErrTooLarge
	for _, fe := range a.errs {
		if fe.Code != CodeTooLarge {
			kind = ErrBadBundle
		}
	}
	return nil, newError(kind, CodeMalformedBundle, "the bundle is not valid", a.errs...)
}

// validRunbookPath reports whether p matches ^runbooks/[A-Za-z0-9_.-]+\.md$,
// the pattern of the manifest's runbook paths.
func validRunbookPath(p string) bool {
	name, ok := strings.CutPrefix(p, dirRunbooks)
	if !ok || !strings.HasSuffix(name, ".md") || len(name) == len(".md") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// cleanPath normalises an entry name ("./x" is "x", a directory's
// trailing '/' is dropped) and refuses any name that could point
// outside the bundle or means something else on another system.
func cleanPath(name string) (string, *FieldError) {
	p := strings.TrimPrefix(name, "./")
	p = strings.TrimSuffix(p, "/")
	if p == "." {
		p = ""
	}
	unsafe := func(why string) (string, *FieldError) {
		fe := fieldErr(entryField(name), CodeUnsafePath, "unsafe path %s: %s", quoteName(name), why)
		return "", &fe
	}
	switch {
	case strings.HasPrefix(p, "/"):
		return unsafe("absolute paths are not allowed")
	case strings.ContainsAny(p, "\\\x00"):
		return unsafe("backslashes and NUL are not allowed")
	case len(p) >= 2 && p[1] == ':':
		return unsafe("drive letters are not allowed")
	}
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "..":
			return unsafe(`".." is not allowed`)
		case ".", "":
			if p != "" {
				return unsafe("empty or '.' path elements are not allowed")
			}
		}
	}
	return p, nil
}

// entryField is the Field of a problem with an entry: the name if it is
// printable, else a placeholder.
func entryField(name string) string {
	if name == "" || len(name) > 256 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\uFFFD' }) {
		return fieldBundle
	}
	return name
}

func quoteName(name string) string {
	if len(name) > 256 {
		name = name[:256] + "…"
	}
	return fmt.Sprintf("%q", name)
}

func typeName(flag byte) string {
	switch flag {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", flag)
}

// errCapExceeded is returned by a capReader past its limit.
var errCapExceeded = errors.New("size limit exceeded")

// capReader reads at most left bytes and fails with errCapExceeded if
// the stream holds more.
type capReader struct {
	r    io.Reader
	left int64
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.err = errCapExceeded
			return 0, c.err
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func readErr(err error, maxBytes int64, format string, args ...any) *Error {
	if errors.Is(err, errCapExceeded) {
		return tooLarge(maxBytes)
	}
	return malformed(format, args...)
}

func malformed(format string, args ...any) *Error {
	fe := fieldErr(fieldBundle, CodeMalformedBundle, format, args...)
	return newError(ErrBadBundle, CodeMalformedBundle, "the bundle is not valid", fe)
}

func tooLarge(maxBytes int64) *Error {
	fe := fieldErr(fieldBundle, CodeTooLarge, "the bundle is over its limit of %d bytes", maxBytes)
	return newError(ErrTooLarge, CodeTooLarge, "bundle too large", fe)
}

func unsupported(contentType, why string) *Error {
	fe := fieldErr("Content-Type", CodeUnsupportedMedia, "unsupported media type %q: %s", contentType, why)
	return newError(ErrUnsupportedMediaType, CodeUnsupportedMedia, "unsupported media type", fe)
}
