package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// ErrDamaged is returned when a database file is damaged: shorter than its
// pages reach, or without a valid meta page. Check lists the damage and
// Salvage copies every record that is still whole into a new file.
var ErrDamaged = errors.New("database file damaged")

// bbolt's on-disk format (go.etcd.io/bbolt/internal/common), in the byte
// order of the machine that wrote the file: a page is a header (page ID
// uint64, flags uint16, element count uint16, overflow page count uint32)
// and its body; pages 0 and 1 are meta pages, whose body is magic,
// version, page size and flags (uint32 each), the root bucket (root page,
// sequence), the freelist page, the high-water mark (the number of pages
// in use), the transaction ID and the FNV-64a checksum of the meta bytes
// before it (uint64 each). bbolt uses the valid meta page of the higher
// transaction ID.
const (
	pageHeaderSize = 16
	metaSize       = 64
	metaSumOffset  = 56
	elementSize    = 16 // a branch element (pos, ksize, pgid) or a leaf element (flags, pos, ksize, vsize)
	bucketHeader   = 16 // a bucket's value: root page (0 for an inline bucket, whose page follows) and sequence

	boltMagic   = 0xED0CDAED
	boltVersion = 2

	branchPage   = 0x01
	leafPage     = 0x02
	freelistPage = 0x10
	bucketLeaf   = 0x01

	noFreelist = ^uint64(0)
	// maxTreeDepth bounds a walk down a B+tree: bbolt's trees are a few
	// levels deep, so a deeper one loops.
	maxTreeDepth = 64
)

var native = binary.NativeEndian

// fileMeta is one of the two meta pages of a bbolt file.
type fileMeta struct {
	page                      int // 0 or 1
	pageSize                  int64
	root, freelist, hwm, txid uint64
	// err says why bbolt would not use the page (magic number, version,
	// checksum: its validation); nil when it would.
	err error
	// fieldErr says why its fields cannot be used (a page size, high-water
	// mark, root or freelist out of range); sound is true when its magic
	// number and version are right and fieldErr is nil.
	fieldErr error
	sound    bool
}

// extent is the length the meta page's pages reach: its high-water mark
// times the page size.
func (m fileMeta) extent() int64 { return int64(m.hwm) * m.pageSize }

// parseMeta decodes the meta page in b (at least a page header and a meta).
func parseMeta(b []byte, page int) fileMeta {
	m := fileMeta{page: page}
	if len(b) < pageHeaderSize+metaSize {
		m.err = errors.New("missing: beyond the end of the file")
		return m
	}
	d := b[pageHeaderSize : pageHeaderSize+metaSize]
	magic, version := native.Uint32(d[0:]), native.Uint32(d[4:])
	m.pageSize = int64(native.Uint32(d[8:]))
	m.root, m.freelist = native.Uint64(d[16:]), native.Uint64(d[32:])
	m.hwm, m.txid = native.Uint64(d[40:]), native.Uint64(d[48:])
	h := fnv.New64a()
	_, _ = h.Write(d[:metaSumOffset])
	switch {
	case magic != boltMagic:
		m.err = errors.New("no bbolt magic number")
		return m
	case version != boltVersion:
		m.err = fmt.Errorf("format version %d, want %d", version, boltVersion)
		return m
	case native.Uint64(d[metaSumOffset:]) != h.Sum64():
		m.err = errors.New("checksum mismatch")
	}
	switch {
	case m.pageSize < pageHeaderSize+metaSize || m.pageSize > 1<<28:
		m.fieldErr = fmt.Errorf("page size %d out of range", m.pageSize)
	case m.hwm < 3 || m.hwm > uint64(1<<62/m.pageSize):
		m.fieldErr = fmt.Errorf("high-water mark %d out of range", m.hwm)
	case m.root < 2 || m.root >= m.hwm:
		m.fieldErr = fmt.Errorf("root page %d outside its pages (2 to %d)", m.root, m.hwm-1)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.hwm):
		m.fieldErr = fmt.Errorf("freelist page %d outside its pages (2 to %d)", m.freelist, m.hwm-1)
	}
	m.sound = m.fieldErr == nil
	if m.err == nil {
		m.err = m.fieldErr
	}
	return m
}

// valid reports whether bbolt would use the meta page (its validation:
// magic number, version, checksum).
func (m fileMeta) valid() bool { return m.err == nil || m.err == m.fieldErr }

// readMetas reads a bbolt file's two meta pages as bbolt finds them: page
// 0 at the start and page 1 one page size further (bbolt tries 1 KiB to 16
// MiB when page 0 is invalid).
func readMetas(r io.ReaderAt, size int64) [2]fileMeta {
	read := func(off int64, page int) fileMeta {
		buf := make([]byte, pageHeaderSize+metaSize)
		if n, _ := r.ReadAt(buf, off); n < len(buf) {
			return fileMeta{page: page, err: errors.New("missing: beyond the end of the file")}
		}
		return parseMeta(buf, page)
	}
	m0 := read(0, 0)
	if m0.valid() && m0.sound {
		m1 := read(m0.pageSize, 1)
		if m1.sound && m1.pageSize != m0.pageSize {
			m1.fieldErr = fmt.Errorf("page size %d, page 0 says %d", m1.pageSize, m0.pageSize)
			m1.err, m1.sound = m1.fieldErr, false
		}
		return [2]fileMeta{m0, m1}
	}
	m1 := fileMeta{page: 1, err: errors.New("not found")}
	for i := 0; i <= 14; i++ {
		pos := int64(1024) << i
		if pos+pageHeaderSize+metaSize > size {
			break
		}
		if m := read(pos, 1); m.sound && m.pageSize == pos && (m.valid() || !m1.sound) {
			m1 = m
			if m.valid() {
				break
			}
		}
	}
	return [2]fileMeta{m0, m1}
}

// chooseMetas returns the meta pages to read the file by, the first the
// one bbolt uses: of the pages bbolt would use (valid), the one of the
// higher transaction ID, then the other. Strict, that is all; lenient, it
// keeps only pages whose fields can be used, and with none valid takes the
// sound ones whose checksum is wrong.
func chooseMetas(ms [2]fileMeta, lenient bool) []fileMeta {
	a, b := ms[0], ms[1]
	if b.txid > a.txid {
		a, b = b, a
	}
	var out []fileMeta
	for _, m := range []fileMeta{a, b} {
		if m.valid() && (!lenient || m.sound) {
			out = append(out, m)
		}
	}
	if lenient && len(out) == 0 {
		for _, m := range []fileMeta{a, b} {
			if m.sound {
				out = append(out, m)
			}
		}
	}
	if len(out) == 2 && out[0].txid == out[1].txid {
		out = out[:1]
	}
	return out
}

// checkFile verifies, before bbolt maps the file at path, that bbolt can
// use it without reading past its end: that a meta page is valid and the
// file holds every page that meta page counts, and that its root and
// freelist pages are what it says. bbolt maps the file into memory, so a
// read of a page past the end would kill the process. A missing file
// passes (Open creates it; bbolt reports the other errors of opening).
func checkFile(path string) error {
	damage, salvage := fileDamage(path)
	switch {
	case damage == "":
		return nil
	case salvage:
		return fmt.Errorf("%w: %s; run flatsweep db salvage --db %s --out NEW.db", ErrDamaged, damage, path)
	}
	return fmt.Errorf("%w: %s", ErrDamaged, damage)
}

// fileDamage returns what checkFile finds wrong with the file at path (""
// for nothing), and whether Salvage may recover some of its records.
func fileDamage(path string) (damage string, salvage bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	size := fi.Size()
	if size == 0 {
		return "the file is empty (0 bytes): cut short, or not a database; remove it to start a new database", false
	}
	ms := readMetas(f, size)
	use := chooseMetas(ms, false)
	if len(use) == 0 {
		return fmt.Sprintf("neither meta page is valid (page 0: %v; page 1: %v): not a bbolt database, or its first pages are damaged",
			ms[0].err, ms[1].err), ms[0].sound || ms[1].sound
	}
	m := use[0]
	if m.fieldErr != nil {
		return fmt.Sprintf("meta page %d: %v", m.page, m.fieldErr), ms[0].sound || ms[1].sound
	}
	if size < m.extent() {
		return fmt.Sprintf("file is %d bytes but its pages reach %d: truncated", size, m.extent()), true
	}
	pf := &pageFile{r: f, size: size, pageSize: m.pageSize, hwm: m.hwm}
	if m.freelist != noFreelist {
		if err := pf.header(m.freelist, freelistPage); err != nil {
			return fmt.Sprintf("meta page %d's freelist: %v", m.page, err), true
		}
	}
	if err := pf.header(m.root, branchPage, leafPage); err != nil {
		return fmt.Sprintf("meta page %d's root: %v", m.page, err), true
	}
	return "", false
}

// pageFile reads the pages of a bbolt file with ReadAt: never through a
// memory map, so a page past the end of the file is an error, not a fault.
type pageFile struct {
	r        io.ReaderAt
	size     int64
	pageSize int64
	hwm      uint64 // the high-water mark of the meta page in use
}

// header checks that page id's header names it and has one of flags.
func (p *pageFile) header(id uint64, flags ...uint16) error {
	hdr := make([]byte, pageHeaderSize)
	if n, _ := p.r.ReadAt(hdr, int64(id)*p.pageSize); n < len(hdr) {
		return fmt.Errorf("page %d: beyond the end of the file", id)
	}
	if got := native.Uint64(hdr); got != id {
		return fmt.Errorf("page %d: %s", id, misnamed(got, hdr))
	}
	if f := native.Uint16(hdr[8:]); !slices.Contains(flags, f) {
		return fmt.Errorf("page %d: unexpected page type (flags %#x)", id, f)
	}
	return nil
}

func misnamed(got uint64, hdr []byte) string {
	if allZero(hdr) {
		return "zeroed"
	}
	return fmt.Sprintf("its header names page %d (overwritten)", got)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// beyondEnd is the error of a page past the end of a truncated file.
type beyondEnd struct{ page uint64 }

func (e beyondEnd) Error() string {
	return fmt.Sprintf("page %d: beyond the end of the file (truncated)", e.page)
}

// errCut is the error of a page cut short by the end of the file.
var errCut = errors.New("cut short by the end of the file (truncated)")

// read returns page id, a branch or leaf page, with its overflow pages. A
// page cut short by the end of the file is returned as far as it goes,
// with errCut.
func (p *pageFile) read(id uint64) ([]byte, error) {
	if id < 2 || id >= p.hwm {
		return nil, fmt.Errorf("page %d: outside the file's pages (2 to %d)", id, p.hwm-1)
	}
	off := int64(id) * p.pageSize
	hdr := make([]byte, pageHeaderSize)
	if n, _ := p.r.ReadAt(hdr, off); n < len(hdr) {
		return nil, beyondEnd{id}
	}
	if got := native.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d: %s", id, misnamed(got, hdr))
	}
	if f := native.Uint16(hdr[8:]); f != branchPage && f != leafPage {
		return nil, fmt.Errorf("page %d: not a branch or leaf page (flags %#x)", id, f)
	}
	pages := uint64(native.Uint32(hdr[12:])) + 1
	if id+pages > p.hwm {
		return nil, fmt.Errorf("page %d: its %d overflow pages run past the file's pages", id, pages-1)
	}
	n := int64(pages) * p.pageSize
	var cut error
	if off+n > p.size {
		n, cut = p.size-off, errCut
	}
	buf := make([]byte, n)
	if got, err := p.r.ReadAt(buf, off); int64(got) < n {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return buf, cut
}

// bucketRef locates a bucket's B+tree: its root page, or its inline page.
type bucketRef struct {
	root   uint64
	inline []byte
}

// parseBucket decodes a bucket's value.
func parseBucket(v []byte) (bucketRef, error) {
	if len(v) < bucketHeader {
		return bucketRef{}, fmt.Errorf("bucket header of %d bytes", len(v))
	}
	b := bucketRef{root: native.Uint64(v)}
	if b.root == 0 {
		b.inline = v[bucketHeader:]
		if len(b.inline) < pageHeaderSize || native.Uint16(b.inline[8:]) != leafPage {
			return bucketRef{}, errors.New("inline bucket without a leaf page")
		}
	}
	return b, nil
}

// entry is one element of a bucket: a key and a value, or a key and a
// nested bucket.
type entry struct {
	key, value []byte
	bucket     bool
}

// walker walks one bucket's B+tree.
type walker struct {
	p      *pageFile
	seen   map[uint64]bool
	fn     func(entry)
	damage []error
}

// walk calls fn for each entry of the bucket at ref, in key order, and
// returns the damage it went past: pages it cannot read and elements out of
// their page, each skipped, the walk going on with the next.
func (p *pageFile) walk(ref bucketRef, fn func(entry)) []error {
	w := &walker{p: p, seen: map[uint64]bool{}, fn: fn}
	if ref.root == 0 {
		if lost := w.leaf(ref.inline, "inline page"); lost > 0 {
			w.damage = append(w.damage, fmt.Errorf("inline page: %d of its elements run past it", lost))
		}
	} else {
		w.page(ref.root, 0)
	}
	return w.damage
}

func (w *walker) page(id uint64, depth int) {
	if depth > maxTreeDepth {
		w.damage = append(w.damage, fmt.Errorf("page %d: more than %d levels down the tree (a loop)", id, maxTreeDepth))
		return
	}
	if w.seen[id] {
		w.damage = append(w.damage, fmt.Errorf("page %d: reached twice (a loop in the tree)", id))
		return
	}
	w.seen[id] = true
	buf, err := w.p.read(id)
	if buf == nil {
		w.damage = append(w.damage, err)
		return
	}
	where := "page " + strconv.FormatUint(id, 10)
	count := int(native.Uint16(buf[10:]))
	lost := 0
	if native.Uint16(buf[8:]) == leafPage {
		lost = w.leaf(buf, where)
	} else {
		for i := range count {
			off := pageHeaderSize + i*elementSize
			if off+elementSize > len(buf) {
				lost = count - i
				break
			}
			w.page(native.Uint64(buf[off+8:]), depth+1)
		}
	}
	switch {
	case err != nil:
		w.damage = append(w.damage, fmt.Errorf("%s: %w: %d of its %d elements lost", where, err, lost, count))
	case lost > 0:
		w.damage = append(w.damage, fmt.Errorf("%s: %d of its %d elements run past the page", where, lost, count))
	}
}

// leaf delivers the entries of a leaf page and returns the number of its
// elements that run past it.
func (w *walker) leaf(buf []byte, where string) (lost int) {
	count := int(native.Uint16(buf[10:]))
	for i := range count {
		off := pageHeaderSize + i*elementSize
		if off+elementSize > len(buf) {
			return lost + count - i
		}
		flags := native.Uint32(buf[off:])
		start := uint64(off) + uint64(native.Uint32(buf[off+4:]))
		ks, vs := uint64(native.Uint32(buf[off+8:])), uint64(native.Uint32(buf[off+12:]))
		if end := start + ks + vs; end > uint64(len(buf)) {
			lost++
			continue
		}
		w.fn(entry{key: buf[start : start+ks : start+ks], value: buf[start+ks : start+ks+vs : start+ks+vs], bucket: flags&bucketLeaf != 0})
	}
	return lost
}

// tree is the B+tree of one meta page.
type tree struct {
	meta  fileMeta
	pages *pageFile
	// buckets caches the nested buckets of a bucket (by path): their refs,
	// whether the walk was damaged, and whether the bucket was found.
	buckets map[string]*nested
}

type nested struct {
	refs    map[string]bucketRef
	damaged bool
	found   bool
}

// lookup finds the bucket at path. lost is true when it may exist but
// cannot be reached (a bucket above it is damaged).
func (t *tree) lookup(path []string) (ref bucketRef, ok, lost bool) {
	if len(path) == 0 {
		return bucketRef{root: t.meta.root}, true, false
	}
	parent := t.children(path[:len(path)-1])
	ref, ok = parent.refs[path[len(path)-1]]
	return ref, ok, !ok && (parent.damaged || !parent.found)
}

func (t *tree) children(path []string) *nested {
	k := strings.Join(path, "\x00")
	if n := t.buckets[k]; n != nil {
		return n
	}
	n := &nested{refs: map[string]bucketRef{}}
	t.buckets[k] = n
	ref, ok, lost := t.lookup(path)
	if !ok {
		n.damaged = lost
		return n
	}
	n.found = true
	dmg := t.pages.walk(ref, func(e entry) {
		if !e.bucket {
			return
		}
		if r, err := parseBucket(e.value); err == nil {
			n.refs[string(e.key)] = r
		} else {
			n.damaged = true
		}
	})
	n.damaged = n.damaged || len(dmg) > 0
	return n
}

// BadRecord is a stored record that cannot be read: its bytes do not
// decode, or what they say does not hold together (a trial whose spec does
// not rebuild, a base whose content does not match its ID).
type BadRecord struct {
	// Bucket is the record's bucket: "sweeps", "bases", "trials/<sweep ID>", …
	Bucket string
	// Key is the record's key: a sweep, base or trial ID.
	Key string
	// Err says what is wrong with it.
	Err error
}

// String words the record for a person: bucket, key and what is wrong.
func (b BadRecord) String() string { return fmt.Sprintf("%s %s: %v", b.Bucket, b.Key, b.Err) }

// BucketCount is what one bucket holds: records read, bad records and, for
// Salvage, records copied.
type BucketCount struct {
	// Bucket is "meta", "sweeps", "bases", "trials/<sweep ID>" or
	// "invalidated/<sweep ID>".
	Bucket string
	// Records is the number of records that read whole; Bad the number that
	// do not (see Report.Bad).
	Records, Bad int
	// Kept is the number of records Salvage copied.
	Kept int
	// Expected is, for a sweep's trials, the trial count its sweep record
	// holds (0 when that record is lost).
	Expected int
}

// Report is what Check found in a database file, or what Salvage copied
// out of one.
type Report struct {
	// Path is the file checked or salvaged; Out the file Salvage wrote.
	Path, Out string
	// Size is the file's length; Extent the length its pages reach (the
	// high-water mark of the meta page used times the page size; 0 when no
	// meta page can be used).
	Size, Extent int64
	// PageSize is the file's page size and TxID the transaction of the meta
	// page used.
	PageSize int64
	TxID     uint64
	// Schema is the flatsweep schema version stored in the file (0: not
	// found).
	Schema int
	// Buckets counts the records of each bucket, in bucket order.
	Buckets []BucketCount
	// Damage lists the damage that is not one record: the file's length,
	// its meta pages, the pages that cannot be read (each with its bucket),
	// and bbolt's own consistency check.
	Damage []string
	// Bad lists the records that cannot be read.
	Bad []BadRecord
	// Notes are findings that are not damage (trials of a submission cut
	// short, a sweep whose trials are fewer than its record counts, …).
	Notes []string
	// Previous counts the records read from the previous transaction's
	// tree, where the latest one's pages are lost.
	Previous int
}

// Damaged reports whether the file holds any damage or bad record.
func (r *Report) Damaged() bool { return len(r.Damage) > 0 || len(r.Bad) > 0 }

// Records returns the numbers of records read whole, bad and kept, over
// every bucket.
func (r *Report) Records() (whole, bad, kept int) {
	for _, b := range r.Buckets {
		whole, bad, kept = whole+b.Records, bad+b.Bad, kept+b.Kept
	}
	return whole, bad, kept
}

// Missing returns the number of trials lost with pages that cannot be read,
// by their sweep records' counts.
func (r *Report) Missing() int {
	n := 0
	for _, b := range r.Buckets {
		n += max(0, b.Expected-b.Records-b.Bad)
	}
	return n
}

// WriteText writes the report for a person: the file, each bucket's counts,
// the damage, the bad records and a verdict. salvaged selects Salvage's
// verdict and its kept column.
func (r *Report) WriteText(w io.Writer, salvaged bool) error {
	ew := &errWriter{w: w}
	ew.printf("%s: %d bytes", r.Path, r.Size)
	if r.PageSize > 0 {
		ew.printf(", page size %d, pages reach %d bytes (transaction %d)", r.PageSize, r.Extent, r.TxID)
	}
	if r.Schema > 0 {
		ew.printf(", schema version %d", r.Schema)
	}
	ew.printf("\n")
	if len(r.Buckets) > 0 {
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', tabwriter.AlignRight)
		if salvaged {
			fmt.Fprintf(tw, "  bucket\trecords\tbad\tkept\t\n")
		} else {
			fmt.Fprintf(tw, "  bucket\trecords\tbad\t\n")
		}
		for _, b := range r.Buckets {
			extra := ""
			if b.Expected > 0 && b.Expected != b.Records+b.Bad {
				extra = fmt.Sprintf("  (its sweep record counts %d)", b.Expected)
			}
			if salvaged {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\n", b.Bucket, b.Records, b.Bad, b.Kept, extra)
			} else {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", b.Bucket, b.Records, b.Bad, extra)
			}
		}
		_ = tw.Flush()
	}
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		ew.printf("%s:\n", title)
		for _, l := range lines {
			ew.printf("  %s\n", l)
		}
	}
	section("damage", r.Damage)
	var bad []string
	perBucket := map[string]int{}
	for _, b := range r.Bad {
		if perBucket[b.Bucket]++; perBucket[b.Bucket] <= maxListed {
			bad = append(bad, b.String())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(perBucket)) {
		if n := perBucket[name]; n > maxListed {
			bad = append(bad, fmt.Sprintf("%s: %d more", name, n-maxListed))
		}
	}
	section("bad records", bad)
	section("notes", r.Notes)
	whole, nbad, kept := r.Records()
	switch {
	case salvaged:
		ew.printf("salvaged %s into %s: kept %d records; lost %d bad records", r.Path, r.Out, kept, nbad)
		if m := r.Missing(); m > 0 {
			ew.printf(" and %d trials on pages that cannot be read", m)
		} else if len(r.Damage) > 0 {
			ew.printf(" and whatever the damaged pages held")
		}
		if r.Previous > 0 {
			ew.printf("; %d records come from the transaction before the last", r.Previous)
		}
		ew.printf("\n")
	case r.Damaged():
		ew.printf("damaged: %d damage findings, %d bad records", len(r.Damage), nbad)
		if m := r.Missing(); m > 0 {
			ew.printf(", %d trials missing by their sweeps' counts", m)
		}
		ew.printf("; %d records read whole: flatsweep db salvage --db %s --out NEW.db copies them\n", whole, r.Path)
	default:
		ew.printf("clean: %d records\n", whole)
	}
	return ew.err
}

// maxListed bounds the bad records a report lists by bucket (a lost base
// makes every trial of its sweep bad); the rest are counted.
const maxListed = 50

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// Check reads every record of the database at path and reports the damage
// it finds, without writing: the file's length against its pages, every
// bucket's pages, every record decoded (sweeps and trials as protobuf,
// bases as JSON whose content matches its ID, each trial's spec rebuilt
// from its base), and, when the pages all read, bbolt's own consistency
// check. It reads the pages itself, never past the end of the file, so a
// truncated or garbled file is reported, not a crash.
//
// Damage goes in the report; the error is for a file that cannot be
// checked at all (missing, unreadable, locked by a running coordinator).
func Check(path string) (*Report, error) {
	sc, err := openScan(path)
	if err != nil {
		return nil, err
	}
	defer sc.close()
	sc.run()
	sc.boltCheck()
	sc.finish()
	return sc.rep, nil
}

// Salvage copies every record of the database at src that reads whole
// (see Check) into a new database at dst, written by Open with this
// schema's buckets, and reports what it kept and what it lost. It reads a
// damaged file page by page, never past its end: a record on a page that
// cannot be read, a record that does not decode and a trial whose spec
// does not rebuild (its base lost) are left out, and the rest copied.
// Where the latest transaction's pages are lost, it takes the records from
// the previous transaction's tree, which bbolt leaves whole.
//
// A sweep record keeps its settings; its trial count becomes the number of
// trials kept, so that submitting the sweep again adds the lost trials
// afresh. The trials of a sweep whose record is lost are kept under a
// placeholder record without a spec (submitting the sweep again restores
// it). A base that is lost is rebuilt from its sweep's spec when that
// yields the same ID.
//
// dst must not exist. On an error nothing is left at dst.
func Salvage(src, dst string) (rep *Report, err error) {
	if _, err := os.Lstat(dst); err == nil {
		return nil, fmt.Errorf("salvage into %s: %w: choose a new file", dst, fs.ErrExist)
	}
	sc, err := openScan(src)
	if err != nil {
		return nil, err
	}
	defer sc.close()
	if len(sc.trees) == 0 {
		return nil, fmt.Errorf("salvage %s: %w: %s; none of its records can be found", src, ErrDamaged, strings.Join(sc.rep.Damage, "; "))
	}
	out, err := Open(dst)
	if err != nil {
		return nil, fmt.Errorf("salvage into %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	sc.out = &recordWriter{st: out}
	sc.rep.Out = dst
	sc.run()
	if err := sc.out.flush(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("salvage into %s: %w", dst, err)
	}
	if err := sc.writeSweeps(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("salvage into %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("salvage into %s: %w", dst, err)
	}
	if sc.rep.Schema > 0 && sc.rep.Schema < SchemaVersion {
		// The records are as the earlier version stored them: opening the
		// copy migrates them.
		st, err := Open(dst)
		if err != nil {
			return nil, fmt.Errorf("salvage into %s: migrate schema version %d: %w", dst, sc.rep.Schema, err)
		}
		if err := st.Close(); err != nil {
			return nil, fmt.Errorf("salvage into %s: %w", dst, err)
		}
	}
	sc.finish()
	return sc.rep, nil
}

// scan reads the records of a database file, checking each, and copies
// those that read whole when out is set (Salvage).
type scan struct {
	rep   *Report
	f     *os.File
	db    *bolt.DB // the file opened by bbolt (holding its lock), when whole
	trees []*tree  // latest transaction first
	out   *recordWriter

	counts      map[string]*BucketCount
	sweeps      map[string]*pb.Sweep // sweep records that read whole
	badSweeps   map[string]bool
	sweepsLost  bool // the sweeps bucket lost pages
	bases       map[string]Base
	rawBases    map[string][]byte // whole bases as stored, by ID
	sweepTrials map[string]int    // trials kept by sweep
}

// openScan opens the file at path for a scan. A whole file is opened by
// bbolt too, read-only, which takes its shared lock (a running
// coordinator's file is refused) and runs bbolt's check.
func openScan(path string) (*scan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("check database %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("check database %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("check database %s: not a regular file", path)
	}
	sc := &scan{
		rep: &Report{Path: path, Size: fi.Size()}, f: f,
		counts: map[string]*BucketCount{}, sweeps: map[string]*pb.Sweep{}, badSweeps: map[string]bool{},
		bases: map[string]Base{}, rawBases: map[string][]byte{}, sweepTrials: map[string]int{},
	}
	if damage, _ := fileDamage(path); damage != "" {
		sc.rep.Damage = append(sc.rep.Damage, damage)
	} else {
		db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: readOnlyTimeout})
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			f.Close()
			return nil, fmt.Errorf("check database %s: %w (a running coordinator holds it: stop it, or check a copy)", path, ErrLocked)
		case err != nil:
			sc.rep.Damage = append(sc.rep.Damage, fmt.Sprintf("bbolt cannot open the file: %v", err))
		default:
			sc.db = db
		}
	}
	ms := readMetas(f, fi.Size())
	for i, m := range ms {
		if m.err != nil && fi.Size() > 0 {
			sc.rep.Damage = append(sc.rep.Damage, fmt.Sprintf("meta page %d: %v", i, m.err))
		}
	}
	use := chooseMetas(ms, true)
	for _, m := range use {
		sc.trees = append(sc.trees, &tree{meta: m, buckets: map[string]*nested{},
			pages: &pageFile{r: f, size: fi.Size(), pageSize: m.pageSize, hwm: m.hwm}})
	}
	if len(use) > 0 {
		m := use[0]
		sc.rep.PageSize, sc.rep.TxID, sc.rep.Extent = m.pageSize, m.txid, m.extent()
		if m.err != nil {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("no meta page is valid: reading the tree of meta page %d, whose checksum is wrong", m.page))
		}
	} else if fi.Size() > 0 {
		sc.rep.Notes = append(sc.rep.Notes, "no meta page can be used: the file's records cannot be found")
	}
	return sc, nil
}

func (sc *scan) close() {
	if sc.db != nil {
		_ = sc.db.Close()
	}
	_ = sc.f.Close()
}

// count returns the counts of the bucket at path, creating them.
func (sc *scan) count(bucket string) *BucketCount {
	c := sc.counts[bucket]
	if c == nil {
		c = &BucketCount{Bucket: bucket}
		sc.counts[bucket] = c
	}
	return c
}

// bad records a record that cannot be read.
func (sc *scan) bad(bucket string, key []byte, err error) {
	sc.count(bucket).Bad++
	sc.rep.Bad = append(sc.rep.Bad, BadRecord{Bucket: bucket, Key: string(key), Err: err})
}

// each calls fn for every entry of the bucket at path: from the latest
// tree and, where the bucket is damaged there (or lost with a bucket above
// it), from the previous tree for the keys the latest lacked. It reports
// the latest tree's damage and whether there was any.
func (sc *scan) each(path []string, fn func(e entry)) (damaged bool) {
	if len(sc.trees) == 0 {
		return true
	}
	name := strings.Join(path, "/")
	if name == "" {
		name = "root bucket"
	}
	t0 := sc.trees[0]
	ref, ok, lost := t0.lookup(path)
	if ok {
		dmg := t0.pages.walk(ref, fn)
		sc.rep.Damage = append(sc.rep.Damage, describeDamage(name, dmg)...)
		damaged = len(dmg) > 0
	}
	if (ok && !damaged) || (!ok && !lost) || len(sc.trees) < 2 {
		return damaged || lost
	}
	// The keys the latest tree holds, read again (rather than kept for
	// every bucket, damaged or not).
	seen := map[string]bool{}
	if ok {
		t0.pages.walk(ref, func(e entry) { seen[string(e.key)] = true })
	}
	t1 := sc.trees[1]
	if ref, ok, _ := t1.lookup(path); ok {
		n := 0
		dmg := t1.pages.walk(ref, func(e entry) {
			if !seen[string(e.key)] {
				n++
				if !e.bucket {
					sc.rep.Previous++
				}
				fn(e)
			}
		})
		if n > 0 {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: %d entries read from the transaction before the last (%d), whose pages are whole", name, n, t1.meta.txid))
		}
		if len(dmg) > 0 {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: the transaction before the last is damaged too (%v)", name, dmg[0]))
		}
	}
	return true
}

// describeDamage words the damage of a bucket's walk, one line each, the
// pages past the end of the file in one line.
func describeDamage(bucket string, dmg []error) []string {
	var out []string
	var beyond []uint64
	for _, err := range dmg {
		var b beyondEnd
		if errors.As(err, &b) {
			beyond = append(beyond, b.page)
			continue
		}
		out = append(out, bucket+": "+err.Error())
	}
	switch len(beyond) {
	case 0:
	case 1:
		out = append(out, fmt.Sprintf("%s: %v", bucket, beyondEnd{beyond[0]}))
	default:
		out = append(out, fmt.Sprintf("%s: %d pages beyond the end of the file (truncated): %s", bucket, len(beyond), pageRanges(beyond)))
	}
	return out
}

// pageRanges words page IDs as ranges: "56, 59-64, 66".
func pageRanges(ids []uint64) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.FormatUint(ids[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ids[i], ids[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// run reads every bucket: meta, sweeps, bases, then the trials by sweep
// and the invalidated trials.
func (sc *scan) run() {
	top := map[string]bool{}
	rootLost := sc.each(nil, func(e entry) {
		if e.bucket {
			top[string(e.key)] = true
		} else {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("key %q outside any bucket: not a flatsweep record; left out", e.key))
		}
	})
	if len(sc.trees) == 0 {
		return
	}
	sc.readMeta(top, rootLost)
	sc.readSweeps()
	sc.readBases()
	sc.readTrials(bucketTrials, true)
	sc.readTrials(bucketGone, false)
	if top[string(bucketAliases)] {
		sc.readAliases()
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		switch name {
		case string(bucketMeta), string(bucketSweeps), string(bucketBases), string(bucketTrials), string(bucketGone), string(bucketAliases):
		case string(bucketLogs):
			sc.rep.Notes = append(sc.rep.Notes, "bucket \"logs\": the output of command trials' attempts; not checked, and not copied by a salvage")
		default:
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("bucket %q: not a flatsweep bucket; not checked, left out", name))
		}
	}
}

func (sc *scan) readMeta(top map[string]bool, rootLost bool) {
	name := string(bucketMeta)
	sc.each([]string{name}, func(e entry) {
		if e.bucket || string(e.key) != string(keySchema) {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("meta: unknown key %q; left out", e.key))
			return
		}
		v, err := strconv.Atoi(string(e.value))
		if err != nil || v < 1 || v > SchemaVersion {
			sc.bad(name, e.key, fmt.Errorf("schema version %q: this binary reads versions 1 to %d", e.value, SchemaVersion))
			return
		}
		sc.rep.Schema = v
		sc.count(name).Records++
		if sc.out != nil {
			sc.count(name).Kept++ // Open writes it
		}
	})
	if sc.rep.Schema == 0 {
		if top[name] || rootLost {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("no readable schema version: reading the records as version %d", SchemaVersion))
		} else {
			sc.rep.Damage = append(sc.rep.Damage, fmt.Sprintf("no meta bucket (not a flatsweep database, or its pages are lost): reading the records as schema version %d", SchemaVersion))
		}
		sc.rep.Schema = SchemaVersion
	}
}

func (sc *scan) readSweeps() {
	name := string(bucketSweeps)
	sc.count(name)
	sc.sweepsLost = sc.each([]string{name}, func(e entry) {
		if e.bucket {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("sweeps: nested bucket %q; left out", e.key))
			return
		}
		sw := new(pb.Sweep)
		if err := proto.Unmarshal(e.value, sw); err != nil {
			sc.badSweeps[string(e.key)] = true
			sc.bad(name, e.key, fmt.Errorf("decode sweep: %w", err))
			return
		}
		if sw.Id != string(e.key) {
			sc.badSweeps[string(e.key)] = true
			sc.bad(name, e.key, fmt.Errorf("its id field reads %q", sw.Id))
			return
		}
		sc.sweeps[sw.Id] = sw
		sc.count(name).Records++
	})
}

// baseID is the ID of a stored base: "b-" and 128 bits of the SHA-256 of its
// stored form (as Base.Encode names it, and version 2 before it).
func baseID(js []byte) string {
	sum := sha256.Sum256(js)
	return "b-" + hex.EncodeToString(sum[:16])
}

func (sc *scan) readBases() {
	name := string(bucketBases)
	sc.count(name)
	sc.each([]string{name}, func(e entry) {
		if e.bucket {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("bases: nested bucket %q; left out", e.key))
			return
		}
		if id := baseID(e.value); id != string(e.key) {
			sc.bad(name, e.key, fmt.Errorf("its content does not match its ID (it hashes to %s): altered", id))
			return
		}
		if sc.rep.Schema < SchemaVersion {
			// A version-2 base is a trial spec.
			if _, err := spec.DecodeTrial(e.value); err != nil {
				sc.bad(name, e.key, fmt.Errorf("decode base: %w", err))
				return
			}
		} else {
			b, err := DecodeBase(e.value)
			if err != nil {
				sc.bad(name, e.key, err)
				return
			}
			sc.bases[string(e.key)] = b
		}
		sc.rawBases[string(e.key)] = e.value
		sc.count(name).Records++
		sc.put([][]byte{bucketBases}, e.key, e.value)
	})
	if sc.rep.Schema < SchemaVersion {
		return
	}
	// A lost base whose sweep's spec rebuilds it, as its ID proves (the ID
	// hashes the base's content).
	for _, id := range slices.Sorted(maps.Keys(sc.sweeps)) {
		b, js, bid, err := sweepBase(sc.sweeps[id])
		if err != nil || sc.rawBases[bid] != nil {
			continue
		}
		sc.bases[bid], sc.rawBases[bid] = b, js
		sc.put([][]byte{bucketBases}, []byte(bid), js)
		sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("bases %s: rebuilt from the spec of sweep %s, which yields the same ID", bid, id))
	}
}

// sweepBase rebuilds the base of a sweep's latest submission from its
// spec, as the coordinator builds it: the sweep's base spec with its swept
// axes zeroed.
func sweepBase(sw *pb.Sweep) (Base, []byte, string, error) {
	s, err := spec.DecodeSweep([]byte(sw.SpecJson))
	if err != nil {
		return Base{}, nil, "", err
	}
	b := Base{Spec: s.Base()}
	for _, a := range s.Swept() {
		b.Axes = append(b.Axes, a.Path)
		if err := spec.SetJSON(&b.Spec, a.Path, "null"); err != nil { // the field's zero value
			return Base{}, nil, "", err
		}
	}
	id, js, err := b.Encode()
	return b, js, id, err
}

// readTrials reads the trials of every sweep in the trials bucket, or in
// the invalidated bucket (checked as protobuf only).
func (sc *scan) readTrials(top []byte, live bool) {
	var sweeps []string
	sc.each([]string{string(top)}, func(e entry) {
		if e.bucket {
			sweeps = append(sweeps, string(e.key))
		} else {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: key %q outside a sweep's bucket; left out", top, e.key))
		}
	})
	slices.Sort(sweeps)
	sweeps = slices.Compact(sweeps)
	for _, sweep := range sweeps {
		name := string(top) + "/" + sweep
		c := sc.count(name)
		if sw := sc.sweeps[sweep]; live && sw != nil {
			c.Expected = int(sw.TrialCount)
		}
		sc.each([]string{string(top), sweep}, func(e entry) {
			if e.bucket {
				sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: nested bucket %q; left out", name, e.key))
				return
			}
			if err := sc.checkTrial(sweep, e, live); err != nil {
				sc.bad(name, e.key, err)
				return
			}
			c.Records++
			if live {
				sc.sweepTrials[sweep]++
			}
			sc.put([][]byte{top, []byte(sweep)}, e.key, e.value)
		})
		if live && c.Expected > 0 && c.Records+c.Bad < c.Expected {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: %d trials found, its sweep record counts %d: %d are lost (submitting the sweep again adds them afresh)",
				name, c.Records+c.Bad, c.Expected, c.Expected-c.Records-c.Bad))
		}
		if live && sc.sweeps[sweep] == nil && !sc.badSweeps[sweep] && !sc.sweepsLost {
			sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("%s: no sweep record (a submission cut short): its trials are invisible, and submitting the sweep again starts them afresh", name))
		}
	}
}

// readAliases reads the trial IDs content identity replaced, by sweep:
// aliases/<sweep ID>, old trial ID → new trial ID.
func (sc *scan) readAliases() {
	var sweeps []string
	sc.each([]string{string(bucketAliases)}, func(e entry) {
		if e.bucket {
			sweeps = append(sweeps, string(e.key))
		}
	})
	slices.Sort(sweeps)
	for _, sweep := range slices.Compact(sweeps) {
		name := string(bucketAliases) + "/" + sweep
		c := sc.count(name)
		sc.each([]string{string(bucketAliases), sweep}, func(e entry) {
			if e.bucket || len(e.value) == 0 || !utf8.Valid(e.value) {
				sc.bad(name, e.key, errors.New("not a trial ID"))
				return
			}
			c.Records++
			sc.put([][]byte{bucketAliases, []byte(sweep)}, e.key, e.value)
		})
	}
}

// checkTrial decodes a stored trial and rebuilds its spec.
func (sc *scan) checkTrial(sweep string, e entry, live bool) error {
	t := new(pb.Trial)
	if err := proto.Unmarshal(e.value, t); err != nil {
		return fmt.Errorf("decode trial: %w", err)
	}
	switch {
	case t.Id != string(e.key):
		return fmt.Errorf("its id field reads %q", t.Id)
	case t.SweepId != sweep:
		return fmt.Errorf("its sweep_id field reads %q", t.SweepId)
	case !live:
		return nil
	}
	return sc.checkSpec(t)
}

// checkSpec rebuilds a trial's spec as the store's reads do (Spec and
// spec.Canonical); version-2 trials, which only the migration reads, are
// checked as protobuf only.
func (sc *scan) checkSpec(t *pb.Trial) error {
	if t.SpecJson != "" || t.BaseId == "" {
		if _, err := spec.DecodeTrial([]byte(t.SpecJson)); err != nil {
			return fmt.Errorf("spec: %w", err)
		}
		return nil
	}
	if sc.rep.Schema < SchemaVersion {
		if sc.rawBases[t.BaseId] == nil {
			return fmt.Errorf("base %s is lost: its spec cannot be rebuilt", t.BaseId)
		}
		return nil
	}
	b, ok := sc.bases[t.BaseId]
	if !ok {
		return fmt.Errorf("base %s is lost: its spec cannot be rebuilt", t.BaseId)
	}
	st, err := b.Trial(t.AxisValues)
	if err == nil {
		_, err = spec.Canonical(st)
	}
	if err != nil {
		return fmt.Errorf("spec from base %s: %w", t.BaseId, err)
	}
	return nil
}

// put queues a record for Salvage.
func (sc *scan) put(path [][]byte, key, value []byte) {
	if sc.out == nil {
		return
	}
	bucket := string(bytesJoin(path))
	sc.count(bucket).Kept++
	sc.out.put(path, key, value)
}

func bytesJoin(path [][]byte) []byte {
	var b []byte
	for i, p := range path {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return b
}

// writeSweeps writes the sweep records after their trials (Salvage): each
// with the count of its trials kept, and a placeholder for the trials of a
// sweep whose record is lost.
func (sc *scan) writeSweeps() error {
	name := string(bucketSweeps)
	var recs [][2][]byte
	for _, id := range slices.Sorted(maps.Keys(sc.sweeps)) {
		sw := proto.Clone(sc.sweeps[id]).(*pb.Sweep)
		sw.TrialCount = int32(sc.sweepTrials[id])
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(sw)
		if err != nil {
			return fmt.Errorf("encode sweep %s: %w", id, err)
		}
		recs = append(recs, [2][]byte{[]byte(id), v})
	}
	for _, id := range slices.Sorted(maps.Keys(sc.sweepTrials)) {
		n := sc.sweepTrials[id]
		if sc.sweeps[id] != nil || n == 0 || !sc.badSweeps[id] && !sc.sweepsLost {
			continue
		}
		sw := &pb.Sweep{Id: id, TrialCount: int32(n), CreateTime: timestamppb.New(time.Now())}
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(sw)
		if err != nil {
			return fmt.Errorf("encode sweep %s: %w", id, err)
		}
		recs = append(recs, [2][]byte{[]byte(id), v})
		sc.rep.Notes = append(sc.rep.Notes, fmt.Sprintf("sweeps %s: its record is lost; a placeholder without a spec keeps its %d trials visible: submit the sweep's file again to restore its spec", id, n))
	}
	for _, r := range recs {
		sc.count(name).Kept++
		sc.out.put([][]byte{bucketSweeps}, r[0], r[1])
	}
	if err := sc.out.flush(); err != nil {
		return err
	}
	if sc.rep.Schema < SchemaVersion {
		return sc.out.st.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(sc.rep.Schema)))
		})
	}
	return nil
}

// boltCheck runs bbolt's consistency check (freelist, pages reachable once,
// key order) on a whole file whose pages all read, so that bbolt, which
// reads through its memory map, never meets a page past the end or a
// garbled one that would fault.
func (sc *scan) boltCheck() {
	if sc.db == nil {
		return
	}
	if len(sc.rep.Damage) > 0 {
		sc.rep.Notes = append(sc.rep.Notes, "bbolt's own check skipped: the file's pages are damaged")
		return
	}
	_ = sc.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			sc.rep.Damage = append(sc.rep.Damage, "bbolt check: "+err.Error())
		}
		return nil
	})
}

// finish orders the report.
func (sc *scan) finish() {
	for _, k := range slices.Sorted(maps.Keys(sc.counts)) {
		sc.rep.Buckets = append(sc.rep.Buckets, *sc.counts[k])
	}
	slices.SortStableFunc(sc.rep.Bad, func(a, b BadRecord) int {
		return cmp.Or(strings.Compare(a.Bucket, b.Bucket), strings.Compare(a.Key, b.Key))
	})
}

// recordWriter copies records into Salvage's new database, a bounded batch
// to a transaction.
type recordWriter struct {
	st    *Store
	batch []queued
	bytes int
	err   error // the first failed write; the later ones are dropped
}

type queued struct {
	path       [][]byte
	key, value []byte
}

const salvageBatch = 32 << 20 // bytes of records to a transaction

func (w *recordWriter) put(path [][]byte, key, value []byte) {
	if w.err != nil {
		return
	}
	w.batch = append(w.batch, queued{path, key, value})
	w.bytes += len(key) + len(value)
	if w.bytes >= salvageBatch {
		w.err = w.flush()
	}
}

// flush writes the queued records; it returns the first failed write's
// error, then and on every later call.
func (w *recordWriter) flush() error {
	if w.err != nil || len(w.batch) == 0 {
		return w.err
	}
	w.err = w.st.db.Update(func(tx *bolt.Tx) error {
		for _, q := range w.batch {
			b, err := tx.CreateBucketIfNotExists(q.path[0])
			if err != nil {
				return err
			}
			for _, p := range q.path[1:] {
				if b, err = b.CreateBucketIfNotExists(p); err != nil {
					return err
				}
			}
			if err := b.Put(q.key, q.value); err != nil {
				return fmt.Errorf("%s %s: %w", bytesJoin(q.path), q.key, err)
			}
		}
		return nil
	})
	w.batch, w.bytes = w.batch[:0], 0
	return w.err
}

// damageLog holds the stored records a Store's reads skipped because they
// cannot be read.
type damageLog struct {
	mu     sync.Mutex
	seen   map[[2]string]BadRecord
	logged map[string]int // records logged, by bucket
}

// maxLogged bounds the skipped records logged one by one in a bucket.
const maxLogged = 20

// skip records that the reads skipped a record, logging it the first time.
func (s *Store) skip(bucket string, key []byte, err error) {
	d := &s.damage
	d.mu.Lock()
	k := [2]string{bucket, string(key)}
	_, dup := d.seen[k]
	logged := 0
	if !dup {
		if d.seen == nil {
			d.seen, d.logged = map[[2]string]BadRecord{}, map[string]int{}
		}
		d.seen[k] = BadRecord{Bucket: bucket, Key: string(key), Err: err}
		d.logged[bucket]++
		logged = d.logged[bucket]
	}
	d.mu.Unlock()
	switch {
	case dup || logged > maxLogged+1:
	case logged == maxLogged+1:
		slog.Error("more stored records of the bucket cannot be read; skipped, and no longer logged one by one (flatsweep db check lists them all)",
			"db", s.Path(), "bucket", bucket)
	default:
		slog.Error("stored record cannot be read; skipped (flatsweep db check lists the damage, flatsweep db salvage copies the rest)",
			"db", s.Path(), "bucket", bucket, "key", string(key), "err", err)
	}
}

// guard runs step, a read of bbolt's pages inside a transaction, turning a
// panic of bbolt's on a damaged page, or a fault reading through its memory
// map where the file has no page, into an error wrapping ErrDamaged instead
// of the end of the process. (Open refuses a file shorter than its pages
// reach; this covers damage inside it.)
func (s *Store) guard(what string, step func()) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		why := fmt.Sprint(r)
		if f, ok := r.(interface{ Addr() uintptr }); ok {
			why = fmt.Sprintf("reading its pages faulted at address %#x (a page past the end of the file, or a garbled page reference)", f.Addr())
		}
		err = fmt.Errorf("%s: %w: %s; run flatsweep db check --db %s", what, ErrDamaged, why, s.Path())
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	step()
	return nil
}

// view is db.View for a read whose callback is the store's own code, guarded
// as guard guards a step; bbolt rolls the transaction back on a panic.
func (s *Store) view(what string, fn func(*bolt.Tx) error) (err error) {
	if gerr := s.guard(what, func() { err = s.db.View(fn) }); gerr != nil {
		return gerr
	}
	return err
}

// BadRecords returns the stored records that reads of this Store skipped
// because they cannot be read (see Trials), ordered by bucket and key:
// empty for a database without damage. Each is logged the first time it
// is met.
func (s *Store) BadRecords() []BadRecord {
	s.damage.mu.Lock()
	out := make([]BadRecord, 0, len(s.damage.seen))
	for _, b := range s.damage.seen {
		out = append(out, b)
	}
	s.damage.mu.Unlock()
	slices.SortFunc(out, func(a, b BadRecord) int {
		return cmp.Or(strings.Compare(a.Bucket, b.Bucket), strings.Compare(a.Key, b.Key))
	})
	return out
}
