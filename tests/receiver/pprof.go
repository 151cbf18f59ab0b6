// Minimal pprof (perftools.profiles.Profile) protobuf decoder and the checks
// Pyroscope runs on an ingested profile (shared/reference/pyroscope-api.md,
// section 4). Standard library only.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

type valueType struct{ typ, unit int64 }

type label struct{ key, str, num, numUnit int64 }

type sample struct {
	locs   []uint64
	values []int64
	labels []label
}

type mapping struct {
	id                    uint64
	filename, buildID     int64
	hasFunctions          bool
	start, limit, offset  uint64
	hasFilenames, hasLine bool
}

type line struct {
	functionID uint64
	line       int64
}

type location struct {
	id, mappingID, address uint64
	lines                  []line
}

type function struct {
	id                         uint64
	name, systemName, filename int64
	startLine                  int64
}

type profile struct {
	sampleTypes   []valueType
	samples       []sample
	mappings      []mapping
	locations     []location
	functions     []function
	strings       []string
	timeNanos     int64
	durationNanos int64
	periodType    valueType
	period        int64
	comments      []int64
	defaultType   int64
}

type pbuf struct {
	b   []byte
	err error
}

func (p *pbuf) varint() uint64 {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(p.b) == 0 {
			p.err = errors.New("truncated varint")
			return 0
		}
		c := p.b[0]
		p.b = p.b[1:]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
	p.err = errors.New("varint too long")
	return 0
}

// next returns field number, wire type, varint value or bytes.
func (p *pbuf) next() (int, int, uint64, []byte) {
	key := p.varint()
	if p.err != nil {
		return 0, 0, 0, nil
	}
	field, wt := int(key>>3), int(key&7)
	if field == 0 {
		p.err = errors.New("field number 0")
		return 0, 0, 0, nil
	}
	switch wt {
	case 0:
		return field, wt, p.varint(), nil
	case 1:
		if len(p.b) < 8 {
			p.err = errors.New("truncated fixed64")
			return 0, 0, 0, nil
		}
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(p.b[i])
		}
		p.b = p.b[8:]
		return field, wt, v, nil
	case 2:
		n := p.varint()
		if p.err != nil {
			return 0, 0, 0, nil
		}
		if n > uint64(len(p.b)) {
			p.err = errors.New("truncated length-delimited field")
			return 0, 0, 0, nil
		}
		b := p.b[:n]
		p.b = p.b[n:]
		return field, wt, 0, b
	case 5:
		if len(p.b) < 4 {
			p.err = errors.New("truncated fixed32")
			return 0, 0, 0, nil
		}
		v := uint64(p.b[0]) | uint64(p.b[1])<<8 | uint64(p.b[2])<<16 | uint64(p.b[3])<<24
		p.b = p.b[4:]
		return field, wt, v, nil
	}
	p.err = fmt.Errorf("unsupported wire type %d", wt)
	return 0, 0, 0, nil
}

// repeated scalar, packed or not
func appendU64(dst []uint64, wt int, v uint64, b []byte) ([]uint64, error) {
	if wt == 0 {
		return append(dst, v), nil
	}
	if wt != 2 {
		return dst, errors.New("bad wire type for repeated integer")
	}
	q := &pbuf{b: b}
	for len(q.b) > 0 && q.err == nil {
		dst = append(dst, q.varint())
	}
	return dst, q.err
}

func decodeValueType(b []byte) (valueType, error) {
	var vt valueType
	p := &pbuf{b: b}
	for len(p.b) > 0 && p.err == nil {
		f, _, v, _ := p.next()
		switch f {
		case 1:
			vt.typ = int64(v)
		case 2:
			vt.unit = int64(v)
		}
	}
	return vt, p.err
}

func decodeSample(b []byte) (sample, error) {
	var s sample
	var err error
	p := &pbuf{b: b}
	for len(p.b) > 0 && p.err == nil {
		f, wt, v, bb := p.next()
		if p.err != nil {
			break
		}
		switch f {
		case 1:
			s.locs, err = appendU64(s.locs, wt, v, bb)
		case 2:
			var u []uint64
			u, err = appendU64(nil, wt, v, bb)
			for _, x := range u {
				s.values = append(s.values, int64(x))
			}
		case 3:
			var l label
			q := &pbuf{b: bb}
			for len(q.b) > 0 && q.err == nil {
				lf, _, lv, _ := q.next()
				switch lf {
				case 1:
					l.key = int64(lv)
				case 2:
					l.str = int64(lv)
				case 3:
					l.num = int64(lv)
				case 4:
					l.numUnit = int64(lv)
				}
			}
			err = q.err
			s.labels = append(s.labels, l)
		}
		if err != nil {
			return s, err
		}
	}
	return s, p.err
}

func decodeProfile(b []byte) (*profile, error) {
	pr := &profile{}
	p := &pbuf{b: b}
	var err error
	for len(p.b) > 0 && p.err == nil {
		f, wt, v, bb := p.next()
		if p.err != nil {
			break
		}
		switch f {
		case 1:
			var vt valueType
			vt, err = decodeValueType(bb)
			pr.sampleTypes = append(pr.sampleTypes, vt)
		case 2:
			var s sample
			s, err = decodeSample(bb)
			pr.samples = append(pr.samples, s)
		case 3:
			var m mapping
			q := &pbuf{b: bb}
			for len(q.b) > 0 && q.err == nil {
				mf, _, mv, _ := q.next()
				switch mf {
				case 1:
					m.id = mv
				case 2:
					m.start = mv
				case 3:
					m.limit = mv
				case 4:
					m.offset = mv
				case 5:
					m.filename = int64(mv)
				case 6:
					m.buildID = int64(mv)
				case 7:
					m.hasFunctions = mv != 0
				case 8:
					m.hasFilenames = mv != 0
				case 9:
					m.hasLine = mv != 0
				}
			}
			err = q.err
			pr.mappings = append(pr.mappings, m)
		case 4:
			var l location
			q := &pbuf{b: bb}
			for len(q.b) > 0 && q.err == nil {
				lf, _, lv, lb := q.next()
				switch lf {
				case 1:
					l.id = lv
				case 2:
					l.mappingID = lv
				case 3:
					l.address = lv
				case 4:
					var ln line
					r := &pbuf{b: lb}
					for len(r.b) > 0 && r.err == nil {
						nf, _, nv, _ := r.next()
						switch nf {
						case 1:
							ln.functionID = nv
						case 2:
							ln.line = int64(nv)
						}
					}
					if r.err != nil {
						q.err = r.err
					}
					l.lines = append(l.lines, ln)
				}
			}
			err = q.err
			pr.locations = append(pr.locations, l)
		case 5:
			var fn function
			q := &pbuf{b: bb}
			for len(q.b) > 0 && q.err == nil {
				ff, _, fv, _ := q.next()
				switch ff {
				case 1:
					fn.id = fv
				case 2:
					fn.name = int64(fv)
				case 3:
					fn.systemName = int64(fv)
				case 4:
					fn.filename = int64(fv)
				case 5:
					fn.startLine = int64(fv)
				}
			}
			err = q.err
			pr.functions = append(pr.functions, fn)
		case 6:
			if wt != 2 {
				return nil, errors.New("string_table entry has the wrong wire type")
			}
			pr.strings = append(pr.strings, string(bb))
		case 9:
			pr.timeNanos = int64(v)
		case 10:
			pr.durationNanos = int64(v)
		case 11:
			pr.periodType, err = decodeValueType(bb)
		case 12:
			pr.period = int64(v)
		case 13:
			var u []uint64
			u, err = appendU64(nil, wt, v, bb)
			for _, x := range u {
				pr.comments = append(pr.comments, int64(x))
			}
		case 14:
			pr.defaultType = int64(v)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return pr, nil
}

// gunzip when the gzip magic is there (the server sniffs, 1.6); the result
// is capped at limit+1 bytes so a bomb cannot exhaust memory.
func maybeGunzip(body []byte, limit int64) ([]byte, bool, error) {
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		return body, false, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, true, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, true, err
	}
	return out, true, nil
}

func (p *profile) str(i int64) (string, bool) {
	if i < 0 || i >= int64(len(p.strings)) {
		return "", false
	}
	return p.strings[i], true
}

// validate: the whole-profile rejections of section 4.1 (422 on /ingest).
func (p *profile) validate(maxSamples, maxSampleLabels int) error {
	if len(p.sampleTypes) == 0 {
		return errors.New("profile has no sample types")
	}
	if len(p.strings) == 0 || p.strings[0] != "" {
		return errors.New("string_table[0] must be empty")
	}
	for _, s := range p.strings {
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid utf8 string hex: %x", s)
		}
	}
	chk := func(i int64, what string) error {
		if _, ok := p.str(i); !ok {
			return fmt.Errorf("%s string index %d out of range", what, i)
		}
		return nil
	}
	for _, st := range p.sampleTypes {
		if err := chk(st.typ, "sample type"); err != nil {
			return err
		}
		if err := chk(st.unit, "sample unit"); err != nil {
			return err
		}
		if strings.Contains(p.strings[st.typ], "-") {
			return fmt.Errorf("sample type %q contains '-'", p.strings[st.typ])
		}
	}
	for _, m := range p.mappings {
		if err := chk(m.filename, "mapping filename"); err != nil {
			return err
		}
		if err := chk(m.buildID, "mapping build id"); err != nil {
			return err
		}
	}
	for _, f := range p.functions {
		if f.id == 0 {
			return errors.New("function id is 0")
		}
		for _, i := range []int64{f.name, f.systemName, f.filename} {
			if err := chk(i, "function"); err != nil {
				return err
			}
		}
	}
	for _, l := range p.locations {
		if l.id == 0 {
			return errors.New("location id is 0")
		}
	}
	if len(p.samples) > maxSamples {
		return fmt.Errorf("profile has %d samples, over the limit of %d", len(p.samples), maxSamples)
	}
	for _, s := range p.samples {
		if len(s.values) != len(p.sampleTypes) {
			return fmt.Errorf("sample has %d values but the profile has %d sample types", len(s.values), len(p.sampleTypes))
		}
		if len(s.labels) > maxSampleLabels {
			return fmt.Errorf("sample has %d labels, over the limit of %d", len(s.labels), maxSampleLabels)
		}
		for _, l := range s.labels {
			if err := chk(l.key, "label key"); err != nil {
				return err
			}
			if err := chk(l.str, "label value"); err != nil {
				return err
			}
			if err := chk(l.numUnit, "label unit"); err != nil {
				return err
			}
		}
	}
	return nil
}

// kept: the samples the server would store after its silent fixes (4.2):
// no negative value, not all zero, every location known and with an address
// or lines.
func (p *profile) kept() []sample {
	locOK := map[uint64]bool{}
	fn := map[uint64]bool{}
	for _, f := range p.functions {
		fn[f.id] = true
	}
	for _, l := range p.locations {
		ok := l.address != 0 || len(l.lines) > 0
		for _, ln := range l.lines {
			if !fn[ln.functionID] {
				ok = false
			}
		}
		locOK[l.id] = ok
	}
	var out []sample
	for _, s := range p.samples {
		good, nonzero := true, false
		for _, v := range s.values {
			if v < 0 {
				good = false
			}
			if v != 0 {
				nonzero = true
			}
		}
		for _, id := range s.locs {
			if !locOK[id] {
				good = false
			}
		}
		if good && nonzero {
			out = append(out, s)
		}
	}
	return out
}
