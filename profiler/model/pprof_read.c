/* pprof file -> sp_profile: gunzip (bounded), a wire-level pre-scan that
 * names format problems, protobuf-c unpack, conversion, and the checks Go's
 * pprof reader makes (formats.md 1.6). Any input must give a profile or a
 * one-line error, never a crash. */
#include "model/pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "profile.pb-c.h"

/* Real profiles are a few MB; 1 GiB of protobuf means a bomb or garbage.
 * A variable (not in pprof.h) so the unit tests can lower it. */
unsigned long long sp_pprof_max_size = 1ULL << 30;
#define SP_PPROF_MAX_SIZE sp_pprof_max_size

static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
		  sp_error *err)
{
	z_stream zs;
	uint8_t *buf = NULL;
	size_t cap, used = 0;
	int zrc, rc = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return sp_error_set(err, -ENOMEM, "cannot initialise zlib");
	cap = len < (1 << 20) ? len * 4 + 1024 : len * 2;
	if (cap > SP_PPROF_MAX_SIZE)
		cap = SP_PPROF_MAX_SIZE;
	buf = malloc(cap);
	if (!buf) {
		rc = sp_error_set(err, -ENOMEM, "out of memory decompressing the profile");
		goto out;
	}
	zs.next_in = (Bytef *)in;
	for (;;) {
		size_t left_in = len - (size_t)(zs.next_in - in);

		if (used == cap) {
			uint8_t *nb;

			if (cap >= SP_PPROF_MAX_SIZE) {
				rc = sp_error_set(err, -EFBIG,
						  "decompressed profile is larger than %llu MiB; refusing to read it",
						  SP_PPROF_MAX_SIZE >> 20);
				goto out;
			}
			cap = cap * 2 > SP_PPROF_MAX_SIZE ? SP_PPROF_MAX_SIZE : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = sp_error_set(err, -ENOMEM,
						  "out of memory decompressing the profile");
				goto out;
			}
			buf = nb;
		}
		zs.avail_in = left_in > UINT_MAX ? UINT_MAX : (uInt)left_in;
		zs.next_out = buf + used;
		zs.avail_out = cap - used > UINT_MAX ? UINT_MAX : (uInt)(cap - used);
		zrc = inflate(&zs, Z_NO_FLUSH);
		used = (size_t)(zs.next_out - buf);
		if (zrc == Z_STREAM_END)
			break;
		if (zrc == Z_BUF_ERROR && zs.next_in == in + len) {
			rc = sp_error_set(err, -EINVAL, "truncated gzip stream");
			goto out;
		}
		if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT) {
			rc = sp_error_set(err, -EINVAL, "corrupt gzip stream: %s",
					  zs.msg ? zs.msg : "invalid data");
			goto out;
		}
		if (zrc == Z_MEM_ERROR) {
			rc = sp_error_set(err, -ENOMEM, "out of memory decompressing the profile");
			goto out;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = sp_error_set(err, -EINVAL, "gzip error %d", zrc);
			goto out;
		}
	}
	/* Go's reader joins further members and then sees two profiles. */
	if (zs.next_in != in + len) {
		size_t rest = len - (size_t)(zs.next_in - in);

		if (rest >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b)
			rc = sp_error_set(err, -EINVAL,
					  "several gzip members (concatenated profiles); write one member per file");
		else
			rc = sp_error_set(err, -EINVAL, "%zu bytes of trailing garbage after the gzip stream",
					  rest);
		goto out;
	}
	*out = buf;
	*out_len = used;
	buf = NULL;
out:
	inflateEnd(&zs);
	free(buf);
	return rc;
}

/* ---- wire-level pre-scan ---------------------------------------------- */

static int read_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	int shift;

	for (shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t c = b[(*pos)++];

		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* What each known field must look like on the wire. Unknown fields are
 * skipped, as pprof does. */
enum wire_kind { W_NONE, W_VARINT, W_PACKABLE, W_BYTES, W_MSG };

struct wire_field {
	enum wire_kind kind;
	const char *name;
	const struct wire_schema *msg;
};

struct wire_schema {
	const char *name;
	unsigned int n_fields;
	struct wire_field fields[16]; /* by field number */
};

#define VF(n) { W_VARINT, n, NULL }
static const struct wire_schema s_value_type = { "value type", 3, { {0}, VF("type"), VF("unit") } };
static const struct wire_schema s_label = {
	"label", 5, { {0}, VF("key"), VF("str"), VF("num"), VF("num_unit") } };
static const struct wire_schema s_sample = {
	"sample", 4, { {0}, { W_PACKABLE, "location_id", NULL }, { W_PACKABLE, "value", NULL },
		       { W_MSG, "label", &s_label } } };
static const struct wire_schema s_mapping = {
	"mapping", 11, { {0}, VF("id"), VF("memory_start"), VF("memory_limit"), VF("file_offset"),
			 VF("filename"), VF("build_id"), VF("has_functions"), VF("has_filenames"),
			 VF("has_line_numbers"), VF("has_inline_frames") } };
static const struct wire_schema s_line = {
	"line", 4, { {0}, VF("function_id"), VF("line"), VF("column") } };
static const struct wire_schema s_location = {
	"location", 6, { {0}, VF("id"), VF("mapping_id"), VF("address"), { W_MSG, "line", &s_line },
			 VF("is_folded") } };
static const struct wire_schema s_function = {
	"function", 6, { {0}, VF("id"), VF("name"), VF("system_name"), VF("filename"),
			 VF("start_line") } };
static const struct wire_schema s_profile = {
	"profile", 16, { {0}, { W_MSG, "sample_type", &s_value_type }, { W_MSG, "sample", &s_sample },
			 { W_MSG, "mapping", &s_mapping }, { W_MSG, "location", &s_location },
			 { W_MSG, "function", &s_function }, { W_BYTES, "string_table", NULL },
			 VF("drop_frames"), VF("keep_frames"), VF("time_nanos"),
			 VF("duration_nanos"), { W_MSG, "period_type", &s_value_type },
			 VF("period"), { W_PACKABLE, "comment", NULL },
			 VF("default_sample_type"), VF("doc_url") } };
#undef VF

struct scan_ctx {
	const uint8_t *base; /* for byte offsets in messages */
	sp_error *err;
	int time_seen;
};

/* Where a nested message sits ("location 4 line 0"), formatted only when
 * there is an error to report. */
struct scan_path {
	const struct scan_path *parent;
	const char *name;
	unsigned int index;
};

static void path_str(const struct scan_path *p, char *buf, size_t len)
{
	size_t off;

	buf[0] = '\0';
	if (!p || !p->name)
		return;
	path_str(p->parent, buf, len);
	off = strlen(buf);
	snprintf(buf + off, len - off, "%s%s %u", off ? " " : "", p->name, p->index);
}

/* "not a pprof profile: sample 3: <problem> field 2 (value) at byte 120" */
static int scan_fail(struct scan_ctx *c, const struct scan_path *path, const uint8_t *at,
		     const char *problem, unsigned int field, const struct wire_field *f)
{
	char fname[48] = "", where[96];

	path_str(path, where, sizeof(where));
	if (field)
		snprintf(fname, sizeof(fname), " field %u%s%s%s", field, f ? " (" : "",
			 f ? f->name : "", f ? ")" : "");
	return sp_error_set(c->err, -EINVAL, "not a pprof profile: %s%s%s%s at byte %zu",
			    where, *where ? ": " : "", problem, fname, (size_t)(at - c->base));
}

/* Check one message's encoding; `where` names it ("sample 3"). Nesting is
 * bounded by the schema (at most three levels). */
static int scan_msg(struct scan_ctx *c, const struct wire_schema *sch,
		    const struct scan_path *path, const uint8_t *b, size_t len)
{
	unsigned int counts[16] = { 0 };
	size_t pos = 0;
	char where[96];

	while (pos < len) {
		size_t start = pos;
		const struct wire_field *f = NULL;
		uint64_t tag, v;
		unsigned int field, wt;

		if (read_varint(b, len, &pos, &tag))
			return scan_fail(c, path, b + start, "bad or truncated varint (field tag)", 0, NULL);
		field = (unsigned int)(tag >> 3 > UINT_MAX ? UINT_MAX : tag >> 3);
		wt = tag & 7;
		if (field == 0)
			return scan_fail(c, path, b + start, "field number 0", 0, NULL);
		if (field < sch->n_fields && sch->fields[field].kind != W_NONE)
			f = &sch->fields[field];
		if (wt != 0 && wt != 1 && wt != 2 && wt != 5) {
			path_str(path, where, sizeof(where));
			return sp_error_set(c->err, -EINVAL,
					    "not a pprof profile: %s%sunknown wire type %u at byte %zu",
					    where, *where ? ": " : "", wt,
					    start + (size_t)(b - c->base));
		}
		if (f && (f->kind == W_VARINT ? wt != 0 :
			  f->kind == W_PACKABLE ? wt != 0 && wt != 2 : wt != 2)) {
			path_str(path, where, sizeof(where));
			return sp_error_set(c->err, -EINVAL,
					    "not a pprof profile: %s%s%s (field %u) has wire type %u at byte %zu",
					    where, *where ? ": " : "", f->name, field, wt,
					    start + (size_t)(b - c->base));
		}
		switch (wt) {
		case 0:
			if (read_varint(b, len, &pos, &v))
				return scan_fail(c, path, b + start, "bad or truncated varint in", field, f);
			break;
		case 1:
			if (len - pos < 8)
				return scan_fail(c, path, b + start, "truncated", field, f);
			pos += 8;
			break;
		case 2:
			if (read_varint(b, len, &pos, &v))
				return scan_fail(c, path, b + start, "bad or truncated length of", field, f);
			if (v > len - pos) {
				path_str(path, where, sizeof(where));
				return sp_error_set(c->err, -EINVAL,
						    "not a pprof profile: %s%sfield %u at byte %zu claims %llu bytes but only %zu remain (truncated file?)",
						    where, *where ? ": " : "", field,
						    start + (size_t)(b - c->base),
						    (unsigned long long)v, len - pos);
			}
			if (f && f->kind == W_MSG) {
				struct scan_path sub = { path, f->name, counts[field] };
				int rc = scan_msg(c, f->msg, &sub, b + pos, (size_t)v);

				if (rc)
					return rc;
			} else if (f && f->kind == W_PACKABLE) {
				size_t p2 = pos, end = pos + (size_t)v;

				while (p2 < end)
					if (read_varint(b, end, &p2, &tag))
						return scan_fail(c, path, b + start,
								 "bad varint in packed", field, f);
			}
			pos += (size_t)v;
			break;
		case 5:
			if (len - pos < 4)
				return scan_fail(c, path, b + start, "truncated", field, f);
			pos += 4;
			break;
		}
		if (field < 16)
			counts[field]++;
		/* Go treats a repeated time_nanos as two profiles glued together. */
		if (sch == &s_profile && field == 9 && ++c->time_seen > 1)
			return sp_error_set(c->err, -EINVAL,
					    "concatenated profiles detected (time_nanos appears twice)");
	}
	return 0;
}

/* protobuf-c only says "failed": check the encoding first to name the
 * problem and where it is. */
static int prescan(const uint8_t *b, size_t len, sp_error *err)
{
	struct scan_ctx c = { b, err, 0 };

	return scan_msg(&c, &s_profile, NULL, b, len);
}

/* ---- conversion -------------------------------------------------------- */

typedef Perftools__Profiles__Profile pb_profile;

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *d;

	if (!n)
		return NULL;
	d = malloc(n * size);
	if (d)
		memcpy(d, src, n * size);
	return d;
}

/* Fill p from m. Arrays the unpacker malloc'd (strings, stacks, values) are
 * taken over and cleared in m, so free_unpacked skips them. */
static int convert(pb_profile *m, sp_profile *p, sp_error *err)
{
	size_t i, j;

	if (!m->n_string_table)
		return sp_error_set(err, -EINVAL, "not a pprof profile: the string table is missing");
	if (m->string_table[0][0])
		return sp_error_set(err, -EINVAL,
				    "not a pprof profile: string_table[0] must be \"\"");
	if (m->n_sample && !m->n_sample_type)
		return sp_error_set(err, -EINVAL,
				    "malformed profile: %zu samples but no sample type information",
				    m->n_sample);
	for (i = 0; i < m->n_sample; i++)
		if (m->sample[i]->n_value != m->n_sample_type)
			return sp_error_set(err, -EINVAL,
					    "sample %zu has %zu values but the profile declares %zu sample types",
					    i, m->sample[i]->n_value, m->n_sample_type);

	/* strings: take the table over */
	for (i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p->strings);
	p->strings = m->string_table;
	p->n_strings = m->n_string_table;
	m->string_table = NULL;
	m->n_string_table = 0;

	if (m->n_sample_type) {
		p->sample_types = calloc(m->n_sample_type, sizeof(*p->sample_types));
		if (!p->sample_types)
			return -ENOMEM;
		for (i = 0; i < m->n_sample_type; i++) {
			p->sample_types[i].type = m->sample_type[i]->type;
			p->sample_types[i].unit = m->sample_type[i]->unit;
		}
		p->n_sample_types = m->n_sample_type;
	}

	if (m->n_mapping) {
		p->mappings = calloc(m->n_mapping, sizeof(*p->mappings));
		if (!p->mappings)
			return -ENOMEM;
		for (i = 0; i < m->n_mapping; i++) {
			const Perftools__Profiles__Mapping *s = m->mapping[i];
			sp_mapping *d = &p->mappings[i];

			d->id = s->id;
			d->memory_start = s->memory_start;
			d->memory_limit = s->memory_limit;
			d->file_offset = s->file_offset;
			d->filename = s->filename;
			d->build_id = s->build_id;
			d->has_functions = s->has_functions;
			d->has_filenames = s->has_filenames;
			d->has_line_numbers = s->has_line_numbers;
			d->has_inline_frames = s->has_inline_frames;
		}
		p->n_mappings = m->n_mapping;
	}

	if (m->n_function) {
		p->functions = calloc(m->n_function, sizeof(*p->functions));
		if (!p->functions)
			return -ENOMEM;
		for (i = 0; i < m->n_function; i++) {
			const Perftools__Profiles__Function *s = m->function[i];
			sp_function *d = &p->functions[i];

			d->id = s->id;
			d->name = s->name;
			d->system_name = s->system_name;
			d->filename = s->filename;
			d->start_line = s->start_line;
		}
		p->n_functions = m->n_function;
	}

	if (m->n_location) {
		p->locations = calloc(m->n_location, sizeof(*p->locations));
		if (!p->locations)
			return -ENOMEM;
		for (i = 0; i < m->n_location; i++) {
			const Perftools__Profiles__Location *s = m->location[i];
			sp_location *d = &p->locations[i];

			d->id = s->id;
			d->mapping_id = s->mapping_id;
			d->address = s->address;
			d->is_folded = s->is_folded;
			if (s->n_line) {
				d->lines = calloc(s->n_line, sizeof(*d->lines));
				if (!d->lines)
					return -ENOMEM;
				for (j = 0; j < s->n_line; j++) {
					d->lines[j].function_id = s->line[j]->function_id;
					d->lines[j].line = s->line[j]->line;
					d->lines[j].column = s->line[j]->column;
				}
				d->n_lines = s->n_line;
			}
			p->n_locations = i + 1; /* freed with p if we fail below */
		}
	}

	if (m->n_sample) {
		p->samples = calloc(m->n_sample, sizeof(*p->samples));
		if (!p->samples)
			return -ENOMEM;
		for (i = 0; i < m->n_sample; i++) {
			Perftools__Profiles__Sample *s = m->sample[i];
			sp_sample *d = &p->samples[i];
			size_t k = 0;

			p->n_samples = i + 1;
			d->location_ids = s->location_id;
			d->n_locations = s->n_location_id;
			s->location_id = NULL;
			s->n_location_id = 0;
			d->values = s->value;
			s->value = NULL;
			s->n_value = 0;
			if (!s->n_label)
				continue;
			d->labels = calloc(s->n_label, sizeof(*d->labels));
			if (!d->labels)
				return -ENOMEM;
			for (j = 0; j < s->n_label; j++) {
				const Perftools__Profiles__Label *l = s->label[j];

				/* As pprof's postDecode: an all-zero label is dropped, and
				 * num is ignored when str is set. */
				if (!l->key && !l->str && !l->num && !l->num_unit)
					continue;
				d->labels[k].key = l->key;
				d->labels[k].str = l->str;
				if (!l->str) {
					d->labels[k].num = l->num;
					d->labels[k].num_unit = l->num_unit;
				}
				k++;
			}
			d->n_labels = k;
		}
	}

	p->drop_frames = m->drop_frames;
	p->keep_frames = m->keep_frames;
	p->time_nanos = m->time_nanos;
	p->duration_nanos = m->duration_nanos;
	if (m->period_type) {
		p->period_type.type = m->period_type->type;
		p->period_type.unit = m->period_type->unit;
	}
	p->period = m->period;
	p->comments = dup_array(m->comment, m->n_comment, sizeof(*m->comment));
	if (m->n_comment && !p->comments)
		return -ENOMEM;
	p->n_comments = m->n_comment;
	p->default_sample_type = m->default_sample_type;
	p->doc_url = m->doc_url;
	return 0;
}

int sp_pprof_decode(const uint8_t *buf, size_t len, sp_profile **out, sp_error *err)
{
	uint8_t *plain = NULL;
	const uint8_t *data = buf;
	size_t data_len = len;
	pb_profile *m = NULL;
	sp_profile *p = NULL;
	int rc;

	*out = NULL;
	if (!len)
		return sp_error_set(err, -EINVAL, "empty file (0 bytes), not a pprof profile");
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		rc = gunzip(buf, len, &plain, &data_len, err);
		if (rc)
			return rc;
		data = plain;
		if (!data_len) {
			rc = sp_error_set(err, -EINVAL, "the gzip stream decompresses to nothing");
			goto out;
		}
	} else if (len > SP_PPROF_MAX_SIZE) {
		return sp_error_set(err, -EFBIG, "profile is larger than %llu MiB; refusing to read it",
				    SP_PPROF_MAX_SIZE >> 20);
	}
	rc = prescan(data, data_len, err);
	if (rc)
		goto out;
	m = perftools__profiles__profile__unpack(NULL, data_len, data);
	if (!m) {
		rc = sp_error_set(err, -EINVAL,
				  "not a pprof profile: protobuf decoding failed (corrupt or truncated message)");
		goto out;
	}
	p = sp_profile_new();
	if (!p) {
		rc = sp_error_set(err, -ENOMEM, "out of memory reading the profile");
		goto out;
	}
	rc = convert(m, p, err);
	if (rc == -ENOMEM)
		sp_error_set(err, rc, "out of memory reading the profile");
	if (!rc)
		rc = sp_profile_validate(p, err);
	if (!rc) {
		*out = p;
		p = NULL;
	}
out:
	if (m)
		perftools__profiles__profile__free_unpacked(m, NULL);
	sp_profile_free(p);
	free(plain);
	return rc;
}

int sp_pprof_read_file(const char *path, sp_profile **out, sp_error *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0, cap;
	int fd, rc = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		rc = sp_error_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = sp_error_set(err, -EISDIR, "%s is a directory, not a pprof file", path);
		goto out;
	}
	/* Pipes and /dev/stdin have no size: read until EOF, within the limit. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			uint8_t *nb;

			if (len > SP_PPROF_MAX_SIZE) {
				rc = sp_error_set(err, -EFBIG,
						  "%s is larger than %llu MiB; refusing to read it",
						  path, SP_PPROF_MAX_SIZE >> 20);
				goto out;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = sp_error_set(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		} else if (!buf) {
			buf = malloc(cap);
			if (!buf) {
				rc = sp_error_set(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sp_error_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = sp_pprof_decode(buf, len, out, err);
	if (rc)
		sp_error_prefix(err, path);
out:
	close(fd);
	free(buf);
	return rc;
}
