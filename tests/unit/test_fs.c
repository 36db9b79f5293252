/* The virtio-fs FUSE server (vmm/virtio/fuse_*.c) driven directly with
 * hand-built requests over a temporary share: every request's happy path,
 * its errors, and a hostile guest's escape attempts, checked on the host.
 * Each test gets TMP/share (the share) and TMP/outside (a sibling the
 * guest must never reach). Run alone with `unit-tests fs_`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "runtime/share_spec.h"
#include "vmm/fd_budget.h"
#include "vmm/vm.h"
#include "vmm/virtio/fuse_server.h"
#include "vmm/virtio/vsock_proto.h"

/* ---- fixture --------------------------------------------------------- */

struct fx {
	char top[64], share[80], outside[80];
	struct fuse_server *s;
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void fx_release(struct fx *f)
{
	fuse_server_free(f->s);
	if (f->top[0])
		nftw(f->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
#define cleanup_fx __attribute__((cleanup(fx_release)))

static char *host_path(struct fx *f, const char *rel)
{
	static char buf[4][256];
	static int i;
	char *p = buf[i++ % 4];
	snprintf(p, 256, "%s/%s", f->share, rel);
	return p;
}

static void write_host(const char *path, const char *data)
{
	FILE *fp = fopen(path, "w");
	if (fp) {
		fputs(data, fp);
		fclose(fp);
	}
}

/* Creates the directories and a server with OPTS (dir filled in). */
static bool fx_init_opts(struct fx *f, struct fuse_share_opts opts)
{
	husk_error_t err cleanup_error = NULL;

	memset(f, 0, sizeof(*f));
	snprintf(f->top, sizeof(f->top), "/tmp/husk-fs.XXXXXX");
	if (!mkdtemp(f->top)) {
		f->top[0] = 0;
		return false;
	}
	snprintf(f->share, sizeof(f->share), "%s/share", f->top);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->top);
	mkdir(f->share, 0755);
	mkdir(f->outside, 0755);
	char p[128];
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	write_host(p, "outside");
	opts.dir = f->share;
	f->s = fuse_server_new(&opts, &err);
	return f->s != NULL;
}

static bool fx_init(struct fx *f)
{
	return fx_init_opts(f, (struct fuse_share_opts){ 0 });
}

/* ---- requests -------------------------------------------------------- */

static uint8_t req[(1 << 20) + 4096];
static size_t reqlen;
static uint8_t rep[(1 << 20) + 4096];
static size_t replen;
static uint32_t g_uid, g_gid;
static uint64_t g_unique = 1;

static void rq(uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header h = {
		.opcode = opcode,
		.unique = g_unique++,
		.nodeid = nodeid,
		.uid = g_uid,
		.gid = g_gid,
		.pid = 42,
	};
	memcpy(req, &h, sizeof(h));
	reqlen = sizeof(h);
}

static void add(const void *p, size_t n)
{
	memcpy(req + reqlen, p, n);
	reqlen += n;
}

static void adds(const char *s)
{
	add(s, strlen(s) + 1);
}

/* Sends the request built (header len set here) with ROOM bytes for the
 * reply; returns the reply's error, or 1 when there was no reply. */
static int send_room(struct fuse_server *s, size_t room)
{
	((struct fuse_in_header *)req)->len = (uint32_t)reqlen;
	struct iovec in = { req, reqlen }, out = { rep, room };
	memset(rep, 0xa5, room < 4096 ? room : 4096);
	replen = fuse_server_handle(s, &in, 1, &out, 1);
	if (replen == 0)
		return 1;
	const struct fuse_out_header *h = (const void *)rep;
	if (h->len != replen || h->unique != ((struct fuse_in_header *)req)->unique)
		return 999; /* a malformed reply fails every check */
	if (h->error > 0 || (h->error < 0 && replen != sizeof(*h)))
		return 998;
	return h->error;
}

static int call(struct fuse_server *s)
{
	return send_room(s, sizeof(rep));
}

static const void *payload(void)
{
	return rep + sizeof(struct fuse_out_header);
}

static size_t payload_len(void)
{
	return replen - sizeof(struct fuse_out_header);
}

static int do_init(struct fuse_server *s)
{
	struct fuse_init_in in = { .major = 7,
				   .minor = 38,
				   .max_readahead = 131072,
				   .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES |
					    FUSE_BIG_WRITES | FUSE_INIT_EXT | FUSE_POSIX_LOCKS };
	rq(FUSE_INIT, 0);
	add(&in, sizeof(in));
	return call(s);
}

static bool fx_ready(struct fx *f)
{
	return fx_init(f) && do_init(f->s) == 0;
}

static int lookup(struct fuse_server *s, uint64_t parent, const char *name,
		  struct fuse_entry_out *e)
{
	rq(FUSE_LOOKUP, parent);
	adds(name);
	int r = call(s);
	if (r == 0 && e)
		memcpy(e, payload(), sizeof(*e));
	return r;
}

static int mkdir_(struct fuse_server *s, uint64_t parent, const char *name, uint32_t mode,
		  struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 022 };
	rq(FUSE_MKDIR, parent);
	add(&in, sizeof(in));
	adds(name);
	int r = call(s);
	if (r == 0 && e)
		memcpy(e, payload(), sizeof(*e));
	return r;
}

static int mknod_(struct fuse_server *s, uint64_t parent, const char *name, uint32_t mode,
		  uint32_t rdev, struct fuse_entry_out *e)
{
	struct fuse_mknod_in in = { .mode = mode, .rdev = rdev };
	rq(FUSE_MKNOD, parent);
	add(&in, sizeof(in));
	adds(name);
	int r = call(s);
	if (r == 0 && e)
		memcpy(e, payload(), sizeof(*e));
	return r;
}

static int create_(struct fuse_server *s, uint64_t parent, const char *name, uint32_t flags,
		   uint32_t mode, struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode };
	rq(FUSE_CREATE, parent);
	add(&in, sizeof(in));
	adds(name);
	int r = call(s);
	if (r == 0) {
		if (e)
			memcpy(e, payload(), sizeof(*e));
		if (fh)
			*fh = ((const struct fuse_open_out *)((const uint8_t *)payload() +
							      sizeof(*e)))
				      ->fh;
	}
	return r;
}

static int open_(struct fuse_server *s, uint64_t node, uint32_t flags, uint64_t *fh, bool dir)
{
	struct fuse_open_in in = { .flags = flags };
	rq(dir ? FUSE_OPENDIR : FUSE_OPEN, node);
	add(&in, sizeof(in));
	int r = call(s);
	if (r == 0 && fh)
		*fh = ((const struct fuse_open_out *)payload())->fh;
	return r;
}

static int release_(struct fuse_server *s, uint64_t node, uint64_t fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };
	rq(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node);
	add(&in, sizeof(in));
	return call(s);
}

static int write_(struct fuse_server *s, uint64_t node, uint64_t fh, uint64_t off, const void *data,
		  uint32_t len)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = len };
	rq(FUSE_WRITE, node);
	add(&in, sizeof(in));
	add(data, len);
	int r = call(s);
	if (r == 0 && ((const struct fuse_write_out *)payload())->size != len)
		return 997;
	return r;
}

/* Reads into rep; the data is at payload(), payload_len() bytes. */
static int read_(struct fuse_server *s, uint64_t node, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	rq(FUSE_READ, node);
	add(&in, sizeof(in));
	return call(s);
}

static int getattr_(struct fuse_server *s, uint64_t node, struct fuse_attr *a)
{
	struct fuse_getattr_in in = { 0 };
	rq(FUSE_GETATTR, node);
	add(&in, sizeof(in));
	int r = call(s);
	if (r == 0 && a)
		*a = ((const struct fuse_attr_out *)payload())->attr;
	return r;
}

static int setattr_(struct fuse_server *s, uint64_t node, const struct fuse_setattr_in *in)
{
	rq(FUSE_SETATTR, node);
	add(in, sizeof(*in));
	return call(s);
}

static int name_op(struct fuse_server *s, uint32_t op, uint64_t parent, const char *name)
{
	rq(op, parent);
	adds(name);
	return call(s);
}

static int rename2_(struct fuse_server *s, uint64_t olddir, const char *old, uint64_t newdir,
		    const char *new, uint32_t flags)
{
	struct fuse_rename2_in in = { .newdir = newdir, .flags = flags };
	rq(FUSE_RENAME2, olddir);
	add(&in, sizeof(in));
	adds(old);
	adds(new);
	return call(s);
}

static int link_(struct fuse_server *s, uint64_t old, uint64_t newdir, const char *name,
		 struct fuse_entry_out *e)
{
	struct fuse_link_in in = { .oldnodeid = old };
	rq(FUSE_LINK, newdir);
	add(&in, sizeof(in));
	adds(name);
	int r = call(s);
	if (r == 0 && e)
		memcpy(e, payload(), sizeof(*e));
	return r;
}

static int symlink_(struct fuse_server *s, uint64_t parent, const char *name, const char *target,
		    struct fuse_entry_out *e)
{
	rq(FUSE_SYMLINK, parent);
	adds(name);
	adds(target);
	int r = call(s);
	if (r == 0 && e)
		memcpy(e, payload(), sizeof(*e));
	return r;
}

static void forget(struct fuse_server *s, uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = { .nlookup = n };
	rq(FUSE_FORGET, node);
	add(&in, sizeof(in));
	send_room(s, 0);
}

static uint32_t live_inodes(struct fuse_server *s)
{
	uint32_t i, h;
	fuse_server_counts(s, &i, &h);
	return i;
}

static uint32_t live_handles(struct fuse_server *s)
{
	uint32_t i, h;
	fuse_server_counts(s, &i, &h);
	return h;
}

static bool host_exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* The sibling directory holds exactly "secret" with its content. */
static bool outside_intact(struct fx *f)
{
	char p[128], buf[32] = { 0 };
	int n = 0;
	DIR *d = opendir(f->outside);
	struct dirent *e;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	FILE *fp = fopen(p, "r");
	if (!fp)
		return false;
	size_t got = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	return n == 1 && got == 7 && strcmp(buf, "outside") == 0;
}

/* ---- protocol --------------------------------------------------------- */

TEST(fs_init_negotiates_and_gates_requests)
{
	cleanup_fx struct fx f;
	CHECK(fx_init(&f));

	/* Nothing but INIT before INIT. */
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "x", NULL), -EIO);
	CHECK_INT(do_init(f.s), 0);
	const struct fuse_init_out *o = payload();
	CHECK_INT(payload_len(), sizeof(*o));
	CHECK_INT(o->major, 7);
	CHECK_INT(o->minor, 38);
	CHECK_INT(o->max_write, FUSE_SERVER_MAX_IO);
	CHECK_INT(o->max_pages, 256);
	CHECK_INT(o->max_readahead, 131072);
	CHECK(o->flags & FUSE_ASYNC_READ);
	CHECK(o->flags & FUSE_DO_READDIRPLUS);
	CHECK(!(o->flags & FUSE_POSIX_LOCKS));	   /* not offered: the guest locks locally */
	CHECK(!(o->flags & FUSE_WRITEBACK_CACHE)); /* never asked for: never granted */
	/* Unknown and unsupported opcodes: ENOSYS. */
	rq(FUSE_GETLK, FUSE_ROOT_ID);
	CHECK_INT(call(f.s), -ENOSYS);
	rq(4095, FUSE_ROOT_ID);
	CHECK_INT(call(f.s), -ENOSYS);
	rq(0xffffffff, FUSE_ROOT_ID);
	CHECK_INT(call(f.s), -ENOSYS);
	/* An older major version is refused, a newer one told ours. */
	struct fuse_init_in in = { .major = 6, .minor = 99 };
	rq(FUSE_INIT, 0);
	add(&in, sizeof(in));
	CHECK_INT(call(f.s), -EPROTO);
	in = (struct fuse_init_in){ .major = 8 };
	rq(FUSE_INIT, 0);
	add(&in, sizeof(in));
	CHECK_INT(call(f.s), 0);
	CHECK_INT(payload_len(), 8);
	CHECK_INT(((const struct fuse_init_out *)payload())->major, 7);
	in = (struct fuse_init_in){ .major = 7, .minor = 30 };
	rq(FUSE_INIT, 0);
	add(&in, sizeof(in));
	CHECK_INT(call(f.s), -EPROTO);
}

TEST(fs_lookup_getattr_statfs)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, e2;
	struct fuse_attr a;
	struct stat st;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "hello"), "hello world");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "hello", &e), 0);
	CHECK(e.nodeid > FUSE_ROOT_ID);
	CHECK_INT(stat(host_path(&f, "hello"), &st), 0);
	CHECK_INT(e.attr.ino, st.st_ino);
	CHECK_INT(e.attr.size, 11);
	CHECK_INT(e.attr.mode, st.st_mode);
	CHECK(e.entry_valid > 0 && e.attr_valid > 0);
	/* Looked up again: the same node, one more reference. */
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "hello", &e2), 0);
	CHECK_INT(e2.nodeid, e.nodeid);
	CHECK_INT(live_inodes(f.s), 2);
	CHECK_INT(getattr_(f.s, e.nodeid, &a), 0);
	CHECK_INT(a.size, 11);
	CHECK_INT(getattr_(f.s, FUSE_ROOT_ID, &a), 0);
	CHECK(S_ISDIR(a.mode));
	/* A missing name: a negative entry (node id 0) the guest may cache. */
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "missing", &e), 0);
	CHECK_INT(e.nodeid, 0);
	CHECK(e.entry_valid > 0);
	/* Under a regular file: ENOTDIR. */
	CHECK_INT(lookup(f.s, e2.nodeid, "x", NULL), -ENOTDIR);

	rq(FUSE_STATFS, FUSE_ROOT_ID);
	CHECK_INT(call(f.s), 0);
	const struct fuse_statfs_out *sf = payload();
	CHECK(sf->st.bsize > 0 && sf->st.blocks > 0 && sf->st.namelen == 255);
}

TEST(fs_create_write_read_owner)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;
	char big[300000];
	CHECK(fx_ready(&f));

	mode_t old = umask(077); /* the VMM's umask must not matter */
	g_uid = 1234;
	g_gid = 5678;
	int r = create_(f.s, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT, 0644, &e, &fh);
	g_uid = g_gid = 0;
	umask(old);
	CHECK_INT(r, 0);
	CHECK_INT(lstat(host_path(&f, "new"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	if (geteuid() == 0) {
		CHECK_INT(st.st_uid, 1234);
		CHECK_INT(st.st_gid, 5678);
		CHECK_INT(e.attr.uid, 1234);
	}
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + (i >> 9));
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, big, sizeof(big)), 0);
	CHECK_INT(write_(f.s, e.nodeid, fh, sizeof(big), "tail", 4), 0);
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, sizeof(big)), 0);
	CHECK_INT(payload_len(), sizeof(big));
	CHECK(memcmp(payload(), big, sizeof(big)) == 0);
	/* Reading past the end: short, then empty. */
	CHECK_INT(read_(f.s, e.nodeid, fh, sizeof(big) - 2, 100), 0);
	CHECK_INT(payload_len(), 6);
	CHECK(memcmp((const char *)payload() + 2, "tail", 4) == 0);
	CHECK_INT(read_(f.s, e.nodeid, fh, 1 << 30, 100), 0);
	CHECK_INT(payload_len(), 0);
	CHECK_INT(lstat(host_path(&f, "new"), &st), 0);
	CHECK_INT(st.st_size, sizeof(big) + 4);

	/* FLUSH, FSYNC (both kinds), RELEASE; then the handle is gone. */
	struct fuse_flush_in fl = { .fh = fh };
	rq(FUSE_FLUSH, e.nodeid);
	add(&fl, sizeof(fl));
	CHECK_INT(call(f.s), 0);
	struct fuse_fsync_in fs = { .fh = fh };
	rq(FUSE_FSYNC, e.nodeid);
	add(&fs, sizeof(fs));
	CHECK_INT(call(f.s), 0);
	fs.fsync_flags = FUSE_FSYNC_FDATASYNC;
	rq(FUSE_FSYNC, e.nodeid);
	add(&fs, sizeof(fs));
	CHECK_INT(call(f.s), 0);
	CHECK_INT(live_handles(f.s), 1);
	CHECK_INT(release_(f.s, e.nodeid, fh, false), 0);
	CHECK_INT(live_handles(f.s), 0);
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 10), -EBADF);
	CHECK_INT(release_(f.s, e.nodeid, fh, false), -EBADF);

	/* CREATE with O_EXCL on an existing name: EEXIST; without: opens it. */
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT | O_EXCL, 0644, NULL, NULL),
		  -EEXIST);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT | O_TRUNC, 0600, &e, &fh), 0);
	CHECK_INT(e.attr.size, 0); /* O_TRUNC honoured */
	CHECK_INT(lstat(host_path(&f, "new"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644); /* an existing file keeps its mode */

	/* OPEN an existing file read-only, then WRITE through it: EBADF. */
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), 0);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "x", 1), -EBADF);
	/* O_APPEND appends whatever the offset. */
	write_host(host_path(&f, "log"), "one\n");
	struct fuse_entry_out le;
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "log", &le), 0);
	CHECK_INT(open_(f.s, le.nodeid, O_WRONLY | O_APPEND, &fh, false), 0);
	CHECK_INT(write_(f.s, le.nodeid, fh, 0, "two\n", 4), 0);
	CHECK_INT(lstat(host_path(&f, "log"), &st), 0);
	CHECK_INT(st.st_size, 8);
	/* Bad access mode. */
	CHECK_INT(open_(f.s, le.nodeid, O_ACCMODE, &fh, false), -EINVAL);
	/* OPEN of a directory: EISDIR; OPENDIR of a file: ENOTDIR. */
	CHECK_INT(open_(f.s, FUSE_ROOT_ID, O_RDONLY, &fh, false), -EISDIR);
	CHECK_INT(open_(f.s, le.nodeid, O_RDONLY, &fh, true), -ENOTDIR);
}

TEST(fs_setgid_directory_gives_its_group)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out d, e;
	struct stat st;
	uint64_t fh;
	CHECK(fx_ready(&f));
	if (geteuid() != 0)
		SKIP("needs root to hand files to other owners");

	/* A set-group-ID directory: new entries take its group, new
	 * directories its set-group-ID bit. */
	g_uid = 1000;
	g_gid = 1000;
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "sgid", 0775, &d), 0);
	CHECK_INT(chown(host_path(&f, "sgid"), 1000, 4242), 0);
	CHECK_INT(chmod(host_path(&f, "sgid"), 02775), 0);
	CHECK_INT(mkdir_(f.s, d.nodeid, "sub", 0755, &e), 0);
	CHECK_INT(create_(f.s, d.nodeid, "file", O_WRONLY | O_CREAT, 0640, &e, &fh), 0);
	g_uid = g_gid = 0;
	CHECK_INT(lstat(host_path(&f, "sgid/sub"), &st), 0);
	CHECK_INT(st.st_uid, 1000);
	CHECK_INT(st.st_gid, 4242);
	CHECK_INT(st.st_mode & 07777, 02755);
	CHECK_INT(lstat(host_path(&f, "sgid/file"), &st), 0);
	CHECK_INT(st.st_gid, 4242);
	CHECK_INT(st.st_mode & 07777, 0640);
}

/* A share that allows set-ID files: they are made as asked. */
TEST(fs_setid_share_keeps_setuid_bits)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .allow_setid = true }) &&
	      do_init(f.s) == 0);
	if (geteuid() != 0)
		SKIP("needs root to hand files to other owners");

	/* Set-ID bits survive a create for another owner (a chown clears them). */
	g_uid = 1000;
	g_gid = 1000;
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "suid", O_WRONLY | O_CREAT, 06755, &e, &fh), 0);
	g_uid = g_gid = 0;
	CHECK_INT(lstat(host_path(&f, "suid"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 06755);
	CHECK_INT(st.st_uid, 1000);
	/* ... and a SETATTR doing chown and chmod together keeps the new mode. */
	struct fuse_setattr_in sa = { .valid = FATTR_UID | FATTR_GID | FATTR_MODE,
				      .uid = 7,
				      .gid = 8,
				      .mode = S_IFREG | 04711 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(lstat(host_path(&f, "suid"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 04711);
	CHECK_INT(st.st_uid, 7);
	CHECK_INT(st.st_gid, 8);
	/* Writing keeps them too: the share's owner asked for that. */
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "x", 1), 0);
	CHECK_INT(lstat(host_path(&f, "suid"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 04711);
}

static mode_t host_mode(struct fx *f, const char *rel)
{
	struct stat st;
	return lstat(host_path(f, rel), &st) == 0 ? st.st_mode & 07777 : 0177777;
}

/* A host file that is set-user-ID root, as a bundle's /usr/bin/passwd. */
static void host_setuid_file(struct fx *f, const char *rel)
{
	write_host(host_path(f, rel), "#!/bin/sh\n");
	chmod(host_path(f, rel), 06755);
}

/* Without the share's consent the guest makes no set-ID file on the host:
 * not by CREATE, MKNOD, MKDIR or SETATTR, not by chown and chmod together. */
TEST(fs_guest_makes_no_setid_files)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, d;
	uint64_t fh;
	CHECK(fx_ready(&f));

	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "c", O_WRONLY | O_CREAT, 06755, &e, &fh), 0);
	CHECK_INT(e.attr.mode & 07777, 0755); /* what the guest is told is the truth */
	CHECK_INT(host_mode(&f, "c"), 0755);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "n", S_IFREG | 04711, 0, &e), 0);
	CHECK_INT(host_mode(&f, "n"), 0711);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "p", S_IFIFO | 02644, 0, &e), 0);
	CHECK_INT(host_mode(&f, "p"), 0644);
	/* A directory keeps set-group-ID (its group goes to new entries),
	 * never set-user-ID. */
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 06775, &d), 0);
	CHECK_INT(host_mode(&f, "d"), 02775);
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = S_IFDIR | 04755 };
	CHECK_INT(setattr_(f.s, d.nodeid, &sa), 0);
	CHECK_INT(host_mode(&f, "d"), 0755);
	sa.mode = S_IFDIR | 02711;
	CHECK_INT(setattr_(f.s, d.nodeid, &sa), 0);
	CHECK_INT(host_mode(&f, "d"), 02711);
	/* chmod of a plain file. */
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "c", &e), 0);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFREG | 06711 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(((const struct fuse_attr_out *)payload())->attr.mode & 07777, 0711);
	CHECK_INT(host_mode(&f, "c"), 0711);

	/* A set-ID file the host put there reads as it is, and a chmod may
	 * keep its bits (they give the guest nothing new). */
	host_setuid_file(&f, "passwd");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "passwd", &e), 0);
	CHECK_INT(e.attr.mode & 07777, 06755);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), 0);
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 100), 0);
	CHECK_INT(host_mode(&f, "passwd"), 06755);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFREG | 04711 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(host_mode(&f, "passwd"), 04711);
	if (geteuid() == 0) {
		/* A chown clears them, and the chmod that comes with it cannot
		 * put them back: a set-user-ID root file made by the guest. */
		CHECK_INT(chown(host_path(&f, "passwd"), 1000, 1000), 0);
		CHECK_INT(chmod(host_path(&f, "passwd"), 04755), 0);
		sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID | FATTR_MODE,
					       .uid = 0,
					       .gid = 0,
					       .mode = S_IFREG | 04755 };
		CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
		struct stat st;
		CHECK_INT(lstat(host_path(&f, "passwd"), &st), 0);
		CHECK_INT(st.st_uid, 0);
		CHECK_INT(st.st_mode & 07777, 0755);
	}
}

/* security.capability of a host file, for "cap_net_raw+ep"; false where
 * the file system or the caller cannot have it. */
static bool host_file_caps(const char *path)
{
	struct {
		uint32_t magic_etc;
		struct {
			uint32_t permitted, inheritable;
		} data[2];
	} caps = { 0x02000001 /* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE */,
		   { { 1U << 13 /* CAP_NET_RAW */, 0 }, { 0, 0 } } };
	return setxattr(path, "security.capability", &caps, sizeof(caps), 0) == 0;
}

static bool has_file_caps(const char *path)
{
	char buf[64];
	return getxattr(path, "security.capability", buf, sizeof(buf)) > 0;
}

/* A file whose data the guest may change loses its set-ID bits and file
 * capabilities first: the VMM's writes (it holds CAP_FSETID) would keep
 * them, leaving a set-ID or capable program with the guest's code. */
TEST(fs_guest_writes_drop_setid_and_caps)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	/* Opening for writing (then writing), by OPEN and by CREATE of an
	 * existing name. */
	host_setuid_file(&f, "w");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "w", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_WRONLY, &fh, false), 0);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "evil", 4), 0);
	CHECK_INT(host_mode(&f, "w"), 0755);
	host_setuid_file(&f, "t");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "t", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY | O_TRUNC, &fh, false), 0);
	CHECK_INT(host_mode(&f, "t"), 0755);
	host_setuid_file(&f, "c");
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
	CHECK_INT(host_mode(&f, "c"), 0755);
	/* A truncate, with and without a handle. */
	host_setuid_file(&f, "s");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "s", &e), 0);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 1 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(host_mode(&f, "s"), 0755);
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh, false), 0);
	CHECK_INT(chmod(host_path(&f, "s"), 04755), 0); /* the host's own doing */
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .size = 0, .fh = fh };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(host_mode(&f, "s"), 0755);

	/* File capabilities go the same way. */
	write_host(host_path(&f, "ping"), "#!/bin/sh\n");
	if (!host_file_caps(host_path(&f, "ping")))
		SKIP("no security.capability on this host file system");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "ping", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), 0);
	CHECK(has_file_caps(host_path(&f, "ping")));
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh, false), 0);
	CHECK(!has_file_caps(host_path(&f, "ping")));
}

/* A sealed share (root.readonly) takes changes until its owner seals it,
 * and none after, not even through handles opened before. */
TEST(fs_sealed_share_turns_read_only)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, d;
	uint64_t fh, fh2;
	atomic_bool sealed;
	atomic_init(&sealed, false);
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .sealed = &sealed }) && do_init(f.s) == 0);

	/* Before: mount points and the like. */
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "proc", 0555, &d), 0);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "before", 6), 0);

	atomic_store(&sealed, true);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "after!", 6), -EROFS);
	CHECK_INT(open_(f.s, e.nodeid, O_WRONLY, &fh2, false), -EROFS);
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "new", 0755, NULL), -EROFS);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "g", O_WRONLY | O_CREAT, 0644, NULL, NULL), -EROFS);
	CHECK_INT(name_op(f.s, FUSE_RMDIR, FUSE_ROOT_ID, "proc"), -EROFS);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EROFS);
	struct fuse_fallocate_in fl = { .fh = fh, .length = 1 << 20 };
	rq(FUSE_FALLOCATE, e.nodeid);
	add(&fl, sizeof(fl));
	CHECK_INT(call(f.s), -EROFS);
	struct fuse_access_in ac = { .mask = W_OK };
	rq(FUSE_ACCESS, e.nodeid);
	add(&ac, sizeof(ac));
	CHECK_INT(call(f.s), -EROFS);
	/* Reading goes on. */
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 100), 0);
	CHECK_INT(payload_len(), 6);
	CHECK(memcmp(payload(), "before", 6) == 0);
	struct stat st;
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_size, 6);
	CHECK(host_exists(host_path(&f, "proc")) && !host_exists(host_path(&f, "new")));
}

TEST(fs_mkdir_rmdir_unlink)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out d, e;
	uint64_t fh;
	struct stat st;
	CHECK(fx_ready(&f));

	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0750, &d), 0);
	CHECK_INT(lstat(host_path(&f, "d"), &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0750, NULL), -EEXIST);
	CHECK_INT(create_(f.s, d.nodeid, "f", O_WRONLY | O_CREAT, 0600, &e, &fh), 0);
	CHECK_INT(name_op(f.s, FUSE_RMDIR, FUSE_ROOT_ID, "d"), -ENOTEMPTY);
	CHECK_INT(name_op(f.s, FUSE_RMDIR, d.nodeid, "f"), -ENOTDIR);
	CHECK_INT(name_op(f.s, FUSE_UNLINK, FUSE_ROOT_ID, "d"), -EISDIR);
	CHECK_INT(name_op(f.s, FUSE_UNLINK, d.nodeid, "f"), 0);
	CHECK(!host_exists(host_path(&f, "d/f")));
	CHECK_INT(name_op(f.s, FUSE_UNLINK, d.nodeid, "f"), -ENOENT);
	/* An open, unlinked file is still readable and writable. */
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "abc", 3), 0);
	CHECK_INT(name_op(f.s, FUSE_RMDIR, FUSE_ROOT_ID, "d"), 0);
	CHECK(!host_exists(host_path(&f, "d")));
	CHECK_INT(name_op(f.s, FUSE_RMDIR, FUSE_ROOT_ID, "d"), -ENOENT);
	/* MKDIR under a removed directory. */
	CHECK_INT(mkdir_(f.s, d.nodeid, "again", 0755, NULL), -ENOENT);
}

TEST(fs_mknod_types_and_devices)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;
	CHECK(fx_ready(&f));

	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "fifo", S_IFIFO | 0644, 0, &e), 0);
	CHECK_INT(lstat(host_path(&f, "fifo"), &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	/* A FIFO is never opened on the host: it could block the server. */
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), -EACCES);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "fifo", O_RDONLY | O_CREAT, 0644, NULL, NULL),
		  -EACCES);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "sock", S_IFSOCK | 0644, 0, NULL), 0);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "reg", S_IFREG | 0600, 0, NULL), 0);
	CHECK_INT(lstat(host_path(&f, "reg"), &st), 0);
	CHECK(S_ISREG(st.st_mode));
	/* Devices are refused by default (1:3 is /dev/null, 8:0 a disk). */
	uint32_t null_dev = (1 << 8) | 3;
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "null", S_IFCHR | 0666, null_dev, NULL), -EPERM);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "sda", S_IFBLK | 0666, 8 << 8, NULL), -EPERM);
	CHECK(!host_exists(host_path(&f, "null")) && !host_exists(host_path(&f, "sda")));
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "bad", 0170000 | 0644, 0, NULL), -EINVAL);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "fifo", S_IFIFO | 0644, 0, NULL), -EEXIST);
	if (geteuid() != 0)
		SKIP("needs root for device nodes");
	/* overlayfs's whiteout (char 0:0) is allowed. */
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "wh", S_IFCHR | 0000, 0, &e), 0);
	CHECK_INT(lstat(host_path(&f, "wh"), &st), 0);
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0);
	/* A device node already in the share is never opened on the host. */
	CHECK_INT(mknod(host_path(&f, "hostnull"), S_IFCHR | 0666, makedev(1, 3)), 0);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "hostnull", &e), 0);
	CHECK_INT(e.attr.rdev, null_dev);
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh, false), -EACCES);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EINVAL);
	CHECK_INT(live_handles(f.s), 0);

	/* A share that allows devices creates them. */
	cleanup_fx struct fx g;
	CHECK(fx_init_opts(&g, (struct fuse_share_opts){ .allow_devices = true }) &&
	      do_init(g.s) == 0);
	CHECK_INT(mknod_(g.s, FUSE_ROOT_ID, "null", S_IFCHR | 0666, null_dev, &e), 0);
	CHECK_INT(lstat(host_path(&g, "null"), &st), 0);
	CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
}

TEST(fs_symlink_readlink_never_followed)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, t;
	char target[PATH_MAX];
	uint64_t fh;
	CHECK(fx_ready(&f));

	/* A symlink to a host path and one up out of the share. */
	char abs[128];
	snprintf(abs, sizeof(abs), "%s/secret", f.outside);
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "abs", abs, &e), 0);
	CHECK(S_ISLNK(e.attr.mode));
	ssize_t n = readlink(host_path(&f, "abs"), target, sizeof(target));
	CHECK_INT(n, strlen(abs));
	rq(FUSE_READLINK, e.nodeid);
	CHECK_INT(call(f.s), 0);
	CHECK_INT(payload_len(), strlen(abs));
	CHECK(memcmp(payload(), abs, strlen(abs)) == 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), -ELOOP);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, true), -ENOTDIR);
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "up", "../outside", &t), 0);
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "etc", "/etc", &t), 0);
	/* Looking up through them finds nothing: the host never follows. */
	CHECK_INT(lookup(f.s, t.nodeid, "passwd", NULL), -ENOTDIR);
	CHECK_INT(lookup(f.s, e.nodeid, "x", NULL), -ENOTDIR);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "up", &t), 0);
	CHECK_INT(lookup(f.s, t.nodeid, "secret", NULL), -ENOTDIR);
	CHECK_INT(mkdir_(f.s, t.nodeid, "x", 0755, NULL), -ENOTDIR);
	CHECK_INT(create_(f.s, t.nodeid, "x", O_WRONLY | O_CREAT, 0644, NULL, NULL), -ENOTDIR);
	/* CREATE over a symlink's name does not write through it. */
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "abs", O_WRONLY | O_CREAT | O_TRUNC, 0644, NULL, NULL),
		  -ELOOP);
	/* READLINK of a non-symlink: EINVAL; SETATTR on a symlink's times. */
	rq(FUSE_READLINK, FUSE_ROOT_ID);
	CHECK_INT(call(f.s), -EINVAL);
	struct fuse_setattr_in sa = { .valid = FATTR_MTIME, .mtime = 1000 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	struct stat st;
	CHECK_INT(lstat(host_path(&f, "abs"), &st), 0);
	CHECK_INT(st.st_mtime, 1000);
	CHECK(outside_intact(&f));
	/* An empty target or one longer than PATH_MAX is refused. */
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "empty", "", NULL), -EINVAL);
	char longer[PATH_MAX + 2];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "long", longer, NULL), -ENAMETOOLONG);
}

TEST(fs_rename_and_rename2)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out d;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "a"), "A");
	write_host(host_path(&f, "b"), "B");
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0755, &d), 0);
	struct fuse_rename_in rn = { .newdir = d.nodeid };
	rq(FUSE_RENAME, FUSE_ROOT_ID);
	add(&rn, sizeof(rn));
	adds("a");
	adds("a2");
	CHECK_INT(call(f.s), 0);
	CHECK(host_exists(host_path(&f, "d/a2")) && !host_exists(host_path(&f, "a")));
	CHECK_INT(rename2_(f.s, d.nodeid, "a2", FUSE_ROOT_ID, "b", RENAME_NOREPLACE), -EEXIST);
	CHECK_INT(rename2_(f.s, d.nodeid, "a2", FUSE_ROOT_ID, "b", RENAME_EXCHANGE), 0);
	char buf[4] = { 0 };
	FILE *fp = fopen(host_path(&f, "b"), "r");
	CHECK(fp);
	CHECK(fread(buf, 1, 3, fp) == 1);
	fclose(fp);
	CHECK_STR(buf, "A");
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "nothing", FUSE_ROOT_ID, "x", 0), -ENOENT);
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "b", FUSE_ROOT_ID, "c", 1U << 7), -EINVAL);
	/* A directory into its own subtree. */
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "d", d.nodeid, "inside", 0), -EINVAL);
	/* Onto a non-empty directory. */
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "e", 0755, NULL), 0);
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "e", FUSE_ROOT_ID, "d", 0), -ENOTEMPTY);
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "d", FUSE_ROOT_ID, "b", 0), -ENOTDIR);
}

TEST(fs_link_shares_node_and_counts)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, l, again;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "orig"), "data");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "orig", &e), 0);
	CHECK_INT(e.attr.nlink, 1);
	CHECK_INT(link_(f.s, e.nodeid, FUSE_ROOT_ID, "hard", &l), 0);
	CHECK_INT(l.nodeid, e.nodeid); /* one inode, one node */
	CHECK_INT(l.attr.nlink, 2);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "hard", &again), 0);
	CHECK_INT(again.nodeid, e.nodeid);
	CHECK_INT(live_inodes(f.s), 2);
	CHECK_INT(link_(f.s, e.nodeid, FUSE_ROOT_ID, "hard", NULL), -EEXIST);
	CHECK_INT(link_(f.s, FUSE_ROOT_ID, FUSE_ROOT_ID, "rootlink", NULL), -EPERM);
	/* Three lookups' worth of references: two forgets leave it. */
	forget(f.s, e.nodeid, 2);
	CHECK_INT(live_inodes(f.s), 2);
	forget(f.s, e.nodeid, 1);
	CHECK_INT(live_inodes(f.s), 1);
	CHECK_INT(getattr_(f.s, e.nodeid, NULL), -ESTALE);
}

TEST(fs_setattr_mode_owner_size_times)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "f"), "0123456789");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = S_IFREG | 01750 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(((const struct fuse_attr_out *)payload())->attr.mode & 07777, 01750);
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_mode & 07777, 01750);
	/* Truncate without a handle, then with one. */
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 4 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_size, 4);
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh, false), 0);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .size = 1 << 20, .fh = fh };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_size, 1 << 20);
	CHECK(st.st_blocks < 64); /* extended sparse */
	sa.fh = fh + 12345;
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EBADF);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = UINT64_MAX };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EINVAL);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 0 };
	CHECK_INT(setattr_(f.s, FUSE_ROOT_ID, &sa), -EISDIR);
	/* Times: explicit, then NOW. */
	sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME,
				       .atime = 1000000,
				       .atimensec = 5,
				       .mtime = 2000000,
				       .mtimensec = 7 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_atim.tv_sec, 1000000);
	CHECK_INT(st.st_mtim.tv_sec, 2000000);
	CHECK_INT(st.st_mtim.tv_nsec, 7);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MTIME | FATTR_MTIME_NOW };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK(st.st_mtim.tv_sec > 2000000);
	CHECK_INT(st.st_atim.tv_sec, 1000000); /* untouched */
	sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME, .atimensec = 1000000000 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EINVAL);
	/* Owner. */
	if (geteuid() == 0) {
		sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID,
					       .uid = 99,
					       .gid = 98 };
		CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
		CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
		CHECK_INT(st.st_uid, 99);
		CHECK_INT(st.st_gid, 98);
		sa = (struct fuse_setattr_in){ .valid = FATTR_GID, .gid = 97 };
		CHECK_INT(setattr_(f.s, e.nodeid, &sa), 0);
		CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
		CHECK_INT(st.st_uid, 99);
		CHECK_INT(st.st_gid, 97);
	}
}

static bool xattr_supported(const char *dir, const char **ns)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/.xattr-probe", dir);
	write_host(p, "");
	*ns = "user.";
	if (setxattr(p, "user.probe", "1", 1, 0) < 0) {
		/* tmpfs before 6.6 has no user.* xattrs; trusted.* works as root. */
		*ns = "trusted.";
		if (setxattr(p, "trusted.probe", "1", 1, 0) < 0) {
			unlink(p);
			return false;
		}
	}
	unlink(p);
	return true;
}

static int setxattr_(struct fuse_server *s, uint64_t node, const char *name, const void *v,
		     uint32_t size, uint32_t flags)
{
	struct fuse_setxattr_in in = { .size = size, .flags = flags };
	rq(FUSE_SETXATTR, node);
	add(&in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	adds(name);
	add(v, size);
	return call(s);
}

static int getxattr_(struct fuse_server *s, uint64_t node, const char *name, uint32_t size)
{
	struct fuse_getxattr_in in = { .size = size };
	rq(FUSE_GETXATTR, node);
	add(&in, sizeof(in));
	adds(name);
	return call(s);
}

TEST(fs_xattrs)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, l;
	const char *ns;
	char name[64], other[64];
	CHECK(fx_ready(&f));
	if (!xattr_supported(f.share, &ns))
		SKIP("no xattrs on this host filesystem");
	snprintf(name, sizeof(name), "%shusk", ns);
	snprintf(other, sizeof(other), "%sother", ns);

	write_host(host_path(&f, "f"), "");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(setxattr_(f.s, e.nodeid, name, "value", 5, 0), 0);
	char buf[32];
	CHECK_INT(getxattr(host_path(&f, "f"), name, buf, sizeof(buf)), 5);
	CHECK_INT(setxattr_(f.s, e.nodeid, name, "v", 1, XATTR_CREATE), -EEXIST);
	CHECK_INT(setxattr_(f.s, e.nodeid, other, "v", 1, XATTR_REPLACE), -ENODATA);
	CHECK_INT(setxattr_(f.s, e.nodeid, other, "xyz", 3, 0), 0);
	/* Size query, then the value; too small a buffer: ERANGE. */
	CHECK_INT(getxattr_(f.s, e.nodeid, name, 0), 0);
	CHECK_INT(((const struct fuse_getxattr_out *)payload())->size, 5);
	CHECK_INT(getxattr_(f.s, e.nodeid, name, 64), 0);
	CHECK_INT(payload_len(), 5);
	CHECK(memcmp(payload(), "value", 5) == 0);
	CHECK_INT(getxattr_(f.s, e.nodeid, name, 2), -ERANGE);
	char none[64];
	snprintf(none, sizeof(none), "%snone", ns);
	CHECK_INT(getxattr_(f.s, e.nodeid, none, 64), -ENODATA);
	struct fuse_getxattr_in li = { .size = 0 };
	rq(FUSE_LISTXATTR, e.nodeid);
	add(&li, sizeof(li));
	CHECK_INT(call(f.s), 0);
	uint32_t need = ((const struct fuse_getxattr_out *)payload())->size;
	CHECK((size_t)need >= strlen(name) + strlen(other) + 2);
	li.size = need;
	rq(FUSE_LISTXATTR, e.nodeid);
	add(&li, sizeof(li));
	CHECK_INT(call(f.s), 0);
	CHECK_INT(payload_len(), need);
	CHECK(memmem(payload(), need, name, strlen(name) + 1) != NULL);
	rq(FUSE_REMOVEXATTR, e.nodeid);
	adds(name);
	CHECK_INT(call(f.s), 0);
	CHECK_INT(getxattr(host_path(&f, "f"), name, buf, sizeof(buf)), -1);
	rq(FUSE_REMOVEXATTR, e.nodeid);
	adds(name);
	CHECK_INT(call(f.s), -ENODATA);
	/* A value size that disagrees with the bytes sent. */
	struct fuse_setxattr_in in = { .size = 100 };
	rq(FUSE_SETXATTR, e.nodeid);
	add(&in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	adds(name);
	add("abc", 3);
	CHECK_INT(call(f.s), -EINVAL);
	/* A symlink's own xattrs are out of reach (they would be followed). */
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "l", "f", &l), 0);
	CHECK_INT(setxattr_(f.s, l.nodeid, name, "v", 1, 0), -EPERM);
	CHECK_INT(getxattr_(f.s, l.nodeid, name, 64), -ENODATA);
	CHECK_INT(getxattr(host_path(&f, "f"), name, buf, sizeof(buf)), -1); /* not through it */
}

/* xattrs the host kernel acts on are the share's to allow. */
TEST(fs_guest_sets_no_privileged_xattrs)
{
	cleanup_fx struct fx f;
	cleanup_fx struct fx a = { 0 };
	struct fuse_entry_out e;
	static const uint8_t caps[20] = { 1, 0, 0, 2, 0, 0x20 };
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "f"), "");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(setxattr_(f.s, e.nodeid, "security.capability", caps, sizeof(caps), 0), -EPERM);
	CHECK_INT(setxattr_(f.s, e.nodeid, "security.selinux", "system_u:object_r:shadow_t:s0", 29,
			    0),
		  -EPERM);
	CHECK_INT(setxattr_(f.s, e.nodeid, "security.ima", "x", 1, 0), -EPERM);
	CHECK_INT(setxattr_(f.s, e.nodeid, "trusted.overlay.redirect", "/etc", 4, 0), -EPERM);
	CHECK(!has_file_caps(host_path(&f, "f")));
	char buf[64];
	CHECK_INT(getxattr(host_path(&f, "f"), "trusted.overlay.redirect", buf, sizeof(buf)), -1);
	/* Anything else is the file system's business. */
	int r = setxattr_(f.s, e.nodeid, "user.husk", "v", 1, 0);
	CHECK(r == 0 || r == -EOPNOTSUPP);

	/* Allowed, they reach the host (file capabilities need root). */
	CHECK(fx_init_opts(&a, (struct fuse_share_opts){ .allow_setid = true }) &&
	      do_init(a.s) == 0);
	write_host(host_path(&a, "f"), "");
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f", &e), 0);
	if (geteuid() != 0)
		SKIP("needs root for security.capability");
	CHECK_INT(setxattr_(a.s, e.nodeid, "security.capability", caps, sizeof(caps), 0), 0);
	CHECK(has_file_caps(host_path(&a, "f")));
}

/* Collects READDIR(PLUS) names into a "|"-separated sorted-free string. */
static int readdir_all(struct fuse_server *s, uint64_t node, bool plus, char *names, size_t size,
		       int *with_node)
{
	uint64_t fh, off = 0;
	int r = open_(s, node, O_RDONLY, &fh, true);
	if (r)
		return r;
	names[0] = 0;
	*with_node = 0;
	for (;;) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 4096 };
		rq(plus ? FUSE_READDIRPLUS : FUSE_READDIR, node);
		add(&in, sizeof(in));
		if ((r = call(s)) != 0)
			return r;
		if (payload_len() == 0)
			break;
		const uint8_t *p = payload(), *end = p + payload_len();
		while (p < end) {
			const struct fuse_dirent *d;
			if (plus) {
				const struct fuse_direntplus *dp = (const void *)p;
				d = &dp->dirent;
				*with_node += dp->entry_out.nodeid != 0;
				p += FUSE_DIRENTPLUS_SIZE(dp);
			} else {
				d = (const void *)p;
				p += FUSE_DIRENT_SIZE(d);
			}
			snprintf(names + strlen(names), size - strlen(names), "|%.*s",
				 (int)d->namelen, d->name);
			off = d->off;
		}
	}
	return release_(s, node, fh, true);
}

TEST(fs_readdir_and_readdirplus)
{
	cleanup_fx struct fx f;
	char names[65536];
	int with_node;
	CHECK(fx_ready(&f));

	/* Enough entries for several 4 KiB replies. */
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof(p), "file-with-a-longish-name-%03d", i);
		write_host(host_path(&f, p), "");
	}
	mkdir(host_path(&f, "sub"), 0755);
	CHECK_INT(readdir_all(f.s, FUSE_ROOT_ID, false, names, sizeof(names), &with_node), 0);
	CHECK(strstr(names, "|file-with-a-longish-name-000|") ||
	      strstr(names, "|file-with-a-longish-name-000"));
	CHECK(strstr(names, "|file-with-a-longish-name-299"));
	CHECK(strstr(names, "|sub"));
	CHECK(strstr(names, "|.|") || strstr(names, "|."));
	int count = 0;
	for (char *p = names; (p = strchr(p, '|')); p++)
		count++;
	CHECK_INT(count, 303);		/* 300 files, sub, . and .. once each */
	CHECK_INT(live_inodes(f.s), 1); /* plain READDIR looks nothing up */

	CHECK_INT(readdir_all(f.s, FUSE_ROOT_ID, true, names, sizeof(names), &with_node), 0);
	count = 0;
	for (char *p = names; (p = strchr(p, '|')); p++)
		count++;
	CHECK_INT(count, 303);
	CHECK_INT(with_node, 301); /* . and .. carry no node */
	CHECK_INT(live_inodes(f.s), 302);
	/* READDIR on a file handle or a bad one: EBADF. */
	struct fuse_read_in in = { .fh = 77, .size = 4096 };
	rq(FUSE_READDIR, FUSE_ROOT_ID);
	add(&in, sizeof(in));
	CHECK_INT(call(f.s), -EBADF);
	/* FSYNCDIR on a directory handle. */
	uint64_t fh;
	CHECK_INT(open_(f.s, FUSE_ROOT_ID, O_RDONLY, &fh, true), 0);
	struct fuse_fsync_in fs = { .fh = fh };
	rq(FUSE_FSYNCDIR, FUSE_ROOT_ID);
	add(&fs, sizeof(fs));
	CHECK_INT(call(f.s), 0);
	/* RELEASE (file) of a directory handle is refused. */
	CHECK_INT(release_(f.s, FUSE_ROOT_ID, fh, false), -EBADF);
	CHECK_INT(release_(f.s, FUSE_ROOT_ID, fh, true), 0);
}

TEST(fs_access_uses_caller_credentials)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "f"), "");
	CHECK_INT(chmod(host_path(&f, "f"), 0640), 0);
	if (geteuid() == 0)
		CHECK_INT(chown(host_path(&f, "f"), 1000, 2000), 0);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	struct {
		uint32_t uid, gid, mask;
		int want;
	} cases[] = {
		{ 0, 0, R_OK | W_OK, 0 },    /* root reads and writes */
		{ 0, 0, X_OK, -EACCES },     /* but executes only what someone may */
		{ 1000, 1, R_OK | W_OK, 0 }, /* owner */
		{ 1000, 1, X_OK, -EACCES },    { 1001, 2000, R_OK, 0 },	   /* group */
		{ 1001, 2000, W_OK, -EACCES }, { 1001, 1, R_OK, -EACCES }, /* other */
		{ 1001, 1, F_OK, 0 },
	};
	if (geteuid() != 0)
		SKIP("needs root to give the file another owner");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fuse_access_in in = { .mask = cases[i].mask };
		g_uid = cases[i].uid;
		g_gid = cases[i].gid;
		rq(FUSE_ACCESS, e.nodeid);
		add(&in, sizeof(in));
		int r = call(f.s);
		g_uid = g_gid = 0;
		CHECK_INT(r, cases[i].want);
	}
}

TEST(fs_fallocate_lseek_copy_file_range)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out a, b;
	uint64_t fa, fb;
	struct stat st;
	CHECK(fx_ready(&f));

	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "a", O_RDWR | O_CREAT, 0644, &a, &fa), 0);
	struct fuse_fallocate_in fl = { .fh = fa, .offset = 0, .length = 1 << 20 };
	rq(FUSE_FALLOCATE, a.nodeid);
	add(&fl, sizeof(fl));
	int r = call(f.s);
	if (r != -EOPNOTSUPP) {
		CHECK_INT(r, 0);
		CHECK_INT(lstat(host_path(&f, "a"), &st), 0);
		CHECK_INT(st.st_size, 1 << 20);
	}
	/* A sparse file: data at 1 MiB only; SEEK_DATA finds it. */
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "sparse", O_RDWR | O_CREAT, 0644, &b, &fb), 0);
	CHECK_INT(write_(f.s, b.nodeid, fb, 1 << 20, "data", 4), 0);
	struct fuse_lseek_in ls = { .fh = fb, .offset = 0, .whence = SEEK_DATA };
	rq(FUSE_LSEEK, b.nodeid);
	add(&ls, sizeof(ls));
	CHECK_INT(call(f.s), 0);
	uint64_t data = ((const struct fuse_lseek_out *)payload())->offset;
	CHECK(data > 0 && data <= (1 << 20)); /* at or before it (block granularity) */
	ls.whence = SEEK_HOLE;
	rq(FUSE_LSEEK, b.nodeid);
	add(&ls, sizeof(ls));
	CHECK_INT(call(f.s), 0);
	CHECK_INT(((const struct fuse_lseek_out *)payload())->offset, 0);
	ls.whence = SEEK_CUR;
	rq(FUSE_LSEEK, b.nodeid);
	add(&ls, sizeof(ls));
	CHECK_INT(call(f.s), -EINVAL);
	/* Copy the 4 data bytes to the start of a. */
	struct fuse_copy_file_range_in cp = { .fh_in = fb,
					      .off_in = 1 << 20,
					      .nodeid_out = a.nodeid,
					      .fh_out = fa,
					      .off_out = 0,
					      .len = 4 };
	rq(FUSE_COPY_FILE_RANGE, b.nodeid);
	add(&cp, sizeof(cp));
	CHECK_INT(call(f.s), 0);
	CHECK_INT(((const struct fuse_write_out *)payload())->size, 4);
	CHECK_INT(read_(f.s, a.nodeid, fa, 0, 4), 0);
	CHECK(payload_len() == 4 && memcmp(payload(), "data", 4) == 0);
	cp.flags = 1;
	rq(FUSE_COPY_FILE_RANGE, b.nodeid);
	add(&cp, sizeof(cp));
	CHECK_INT(call(f.s), -EINVAL);
	/* SYNCFS */
	struct fuse_syncfs_in sy = { 0 };
	rq(FUSE_SYNCFS, FUSE_ROOT_ID);
	add(&sy, sizeof(sy));
	CHECK_INT(call(f.s), 0);
}

TEST(fs_readonly_share_refuses_every_change)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .readonly = true }) && do_init(f.s) == 0);

	write_host(host_path(&f, "f"), "ro-data");
	mkdir(host_path(&f, "d"), 0755);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh, false), 0);
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 100), 0);
	CHECK_INT(payload_len(), 7);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "x", 1), -EROFS);
	uint64_t fh2;
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh2, false), -EROFS);
	CHECK_INT(open_(f.s, e.nodeid, O_WRONLY, &fh2, false), -EROFS);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY | O_TRUNC, &fh2, false), -EROFS);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "n", O_WRONLY | O_CREAT, 0644, NULL, NULL), -EROFS);
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "n", 0755, NULL), -EROFS);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "n", S_IFIFO | 0644, 0, NULL), -EROFS);
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "n", "f", NULL), -EROFS);
	CHECK_INT(link_(f.s, e.nodeid, FUSE_ROOT_ID, "n", NULL), -EROFS);
	CHECK_INT(name_op(f.s, FUSE_UNLINK, FUSE_ROOT_ID, "f"), -EROFS);
	CHECK_INT(name_op(f.s, FUSE_RMDIR, FUSE_ROOT_ID, "d"), -EROFS);
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "f", FUSE_ROOT_ID, "g", 0), -EROFS);
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	rq(FUSE_RENAME, FUSE_ROOT_ID);
	add(&rn, sizeof(rn));
	adds("f");
	adds("g");
	CHECK_INT(call(f.s), -EROFS);
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	CHECK_INT(setattr_(f.s, e.nodeid, &sa), -EROFS);
	CHECK_INT(setxattr_(f.s, e.nodeid, "user.x", "v", 1, 0), -EROFS);
	rq(FUSE_REMOVEXATTR, e.nodeid);
	adds("user.x");
	CHECK_INT(call(f.s), -EROFS);
	struct fuse_fallocate_in fl = { .fh = fh, .length = 10 };
	rq(FUSE_FALLOCATE, e.nodeid);
	add(&fl, sizeof(fl));
	CHECK_INT(call(f.s), -EROFS);
	struct fuse_copy_file_range_in cp = { .fh_in = fh, .fh_out = fh, .len = 1 };
	rq(FUSE_COPY_FILE_RANGE, e.nodeid);
	add(&cp, sizeof(cp));
	CHECK_INT(call(f.s), -EROFS);
	struct fuse_access_in ac = { .mask = W_OK };
	rq(FUSE_ACCESS, e.nodeid);
	add(&ac, sizeof(ac));
	CHECK_INT(call(f.s), -EROFS);
	/* Nothing changed on the host. */
	struct stat st;
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_size, 7);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK(!host_exists(host_path(&f, "n")) && !host_exists(host_path(&f, "g")));
	CHECK(host_exists(host_path(&f, "d")));
}

/* ---- a hostile guest -------------------------------------------------- */

TEST(fs_escape_bad_names)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out d;
	CHECK(fx_ready(&f));

	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0755, &d), 0);
	const char *bad[] = { "..",   ".", "a/b", "/", "../outside", "/etc", "../../etc/passwd",
			      "d/..", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(lookup(f.s, FUSE_ROOT_ID, bad[i], NULL), -EINVAL);
		CHECK_INT(lookup(f.s, d.nodeid, bad[i], NULL), -EINVAL);
		CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, bad[i], 0755, NULL), -EINVAL);
		CHECK_INT(create_(f.s, FUSE_ROOT_ID, bad[i], O_WRONLY | O_CREAT, 0644, NULL, NULL),
			  -EINVAL);
		CHECK_INT(name_op(f.s, FUSE_UNLINK, d.nodeid, bad[i]), -EINVAL);
		CHECK_INT(name_op(f.s, FUSE_RMDIR, d.nodeid, bad[i]), -EINVAL);
		CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, bad[i], "x", NULL), -EINVAL);
		CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "d", FUSE_ROOT_ID, bad[i], 0), -EINVAL);
		CHECK_INT(rename2_(f.s, d.nodeid, bad[i], FUSE_ROOT_ID, "x", 0), -EINVAL);
		CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, bad[i], S_IFIFO | 0644, 0, NULL), -EINVAL);
	}
	/* An embedded NUL: "ab\0cd" is not the name "ab". */
	write_host(host_path(&f, "ab"), "x");
	rq(FUSE_LOOKUP, FUSE_ROOT_ID);
	add("ab\0cd", 6);
	CHECK_INT(call(f.s), -EINVAL);
	rq(FUSE_UNLINK, FUSE_ROOT_ID);
	add("ab\0cd", 6);
	CHECK_INT(call(f.s), -EINVAL);
	CHECK(host_exists(host_path(&f, "ab")));
	/* No NUL at all, and a name longer than NAME_MAX. */
	rq(FUSE_LOOKUP, FUSE_ROOT_ID);
	add("abc", 3);
	CHECK_INT(call(f.s), -EINVAL);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, longname, NULL), -ENAMETOOLONG);
	/* RENAME with only one name. */
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	rq(FUSE_RENAME, FUSE_ROOT_ID);
	add(&rn, sizeof(rn));
	adds("ab");
	CHECK_INT(call(f.s), -EINVAL);
	CHECK(host_exists(host_path(&f, "ab")));
	CHECK(outside_intact(&f));
}

TEST(fs_escape_bad_node_ids)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	write_host(host_path(&f, "f"), "x");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	uint64_t bad[] = { 0,	       2 + 1000,	 0xffffffffULL,
			   UINT64_MAX, (1ULL << 32) | 1, e.nodeid + (1ULL << 32) };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(getattr_(f.s, bad[i], NULL), -ESTALE);
		CHECK_INT(lookup(f.s, bad[i], "f", NULL), -ESTALE);
		CHECK_INT(mkdir_(f.s, bad[i], "x", 0755, NULL), -ESTALE);
		CHECK_INT(open_(f.s, bad[i], O_RDONLY, &fh, false), -ESTALE);
		/* A hard link to a node nobody was given, or into one. */
		CHECK_INT(link_(f.s, bad[i], FUSE_ROOT_ID, "l", NULL), -ESTALE);
		CHECK_INT(link_(f.s, e.nodeid, bad[i], "l", NULL), -ESTALE);
		/* A rename to a directory nobody was given. */
		CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "f", bad[i], "f", 0), -ESTALE);
		forget(f.s, bad[i], 1); /* ignored */
	}
	/* A forgotten id stays stale even after its slot is reused. */
	forget(f.s, e.nodeid, 1);
	CHECK_INT(getattr_(f.s, e.nodeid, NULL), -ESTALE);
	struct fuse_entry_out e2;
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e2), 0);
	CHECK((e2.nodeid & 0xffffffff) == (e.nodeid & 0xffffffff)); /* same slot */
	CHECK(e2.nodeid != e.nodeid);
	CHECK_INT(getattr_(f.s, e.nodeid, NULL), -ESTALE);
	CHECK_INT(getattr_(f.s, e2.nodeid, NULL), 0);
	/* FORGET of the root is ignored: it lives as long as the share. */
	forget(f.s, FUSE_ROOT_ID, 1000);
	CHECK_INT(getattr_(f.s, FUSE_ROOT_ID, NULL), 0);
	/* Handles: made up, or of the other kind. */
	CHECK_INT(read_(f.s, e2.nodeid, 0, 0, 10), -EBADF);
	CHECK_INT(read_(f.s, e2.nodeid, UINT64_MAX, 0, 10), -EBADF);
	CHECK_INT(open_(f.s, FUSE_ROOT_ID, O_RDONLY, &fh, true), 0);
	CHECK_INT(read_(f.s, e2.nodeid, fh, 0, 10), -EBADF);
	CHECK(!host_exists(host_path(&f, "l")) && !host_exists(host_path(&f, "x")));
	CHECK(outside_intact(&f));
}

TEST(fs_escape_rename_and_link_stay_inside)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, up;
	CHECK(fx_ready(&f));

	/* The only way to name a directory is a node the server gave, and
	 * every node is beneath the share: a symlink leading out is a node
	 * of its own, not a directory. */
	write_host(host_path(&f, "f"), "inside");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(symlink(f.outside, host_path(&f, "out")), 0);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "out", &up), 0);
	CHECK(S_ISLNK(up.attr.mode));
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "f", up.nodeid, "f", 0), -ENOTDIR);
	CHECK_INT(link_(f.s, e.nodeid, up.nodeid, "f", NULL), -ENOTDIR);
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "f", FUSE_ROOT_ID, "../outside/f", 0), -EINVAL);
	CHECK_INT(mknod_(f.s, up.nodeid, "p", S_IFIFO | 0644, 0, NULL), -ENOTDIR);
	CHECK_INT(symlink_(f.s, up.nodeid, "s", "x", NULL), -ENOTDIR);
	CHECK_INT(name_op(f.s, FUSE_UNLINK, up.nodeid, "secret"), -ENOTDIR);
	/* Renaming the symlink itself moves the link, not its target. */
	CHECK_INT(rename2_(f.s, FUSE_ROOT_ID, "out", FUSE_ROOT_ID, "moved", 0), 0);
	CHECK(host_exists(f.outside));
	/* The xattrs and times of the symlink's target are out of reach. */
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	CHECK_INT(setattr_(f.s, up.nodeid, &sa), -EOPNOTSUPP);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 0 };
	CHECK_INT(setattr_(f.s, up.nodeid, &sa), -EINVAL);
	struct stat st;
	CHECK_INT(stat(f.outside, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0755);
	CHECK(outside_intact(&f));
}

TEST(fs_truncated_and_oversized_requests)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
	/* A header cut short: answered with unique 0, EINVAL. */
	struct fuse_in_header h = { .len = 40, .opcode = FUSE_GETATTR, .unique = 9, .nodeid = 1 };
	struct iovec in = { &h, 20 }, out = { rep, sizeof(rep) };
	CHECK_INT(fuse_server_handle(f.s, &in, 1, &out, 1), 16);
	CHECK_INT(((struct fuse_out_header *)rep)->error, -EINVAL);
	CHECK_INT(((struct fuse_out_header *)rep)->unique, 0);
	/* A len beyond the bytes present, and one below the header. */
	h.len = 41;
	in.iov_len = 40;
	CHECK_INT(fuse_server_handle(f.s, &in, 1, &out, 1), 16);
	CHECK_INT(((struct fuse_out_header *)rep)->error, -EINVAL);
	CHECK_INT(((struct fuse_out_header *)rep)->unique, 9);
	h.len = 39;
	CHECK_INT(fuse_server_handle(f.s, &in, 1, &out, 1), 16);
	CHECK_INT(((struct fuse_out_header *)rep)->error, -EINVAL);
	h.len = 0xffffffff;
	CHECK_INT(fuse_server_handle(f.s, &in, 1, &out, 1), 16);
	CHECK_INT(((struct fuse_out_header *)rep)->error, -EINVAL);
	/* Extensions longer than the request. */
	h.len = 40;
	h.total_extlen = 1;
	CHECK_INT(fuse_server_handle(f.s, &in, 1, &out, 1), 16);
	CHECK_INT(((struct fuse_out_header *)rep)->error, -EINVAL);
	/* Fixed arguments cut short. */
	rq(FUSE_SETATTR, e.nodeid);
	add("abcd", 4);
	CHECK_INT(call(f.s), -EINVAL);
	rq(FUSE_READ, e.nodeid);
	CHECK_INT(call(f.s), -EINVAL);
	rq(FUSE_MKNOD, FUSE_ROOT_ID);
	adds("nod");
	CHECK_INT(call(f.s), -EINVAL);
	CHECK(!host_exists(host_path(&f, "nod")));
	/* WRITE claiming more data than it carries. */
	struct fuse_write_in w = { .fh = fh, .size = 100 };
	rq(FUSE_WRITE, e.nodeid);
	add(&w, sizeof(w));
	add("only-ten..", 10);
	CHECK_INT(call(f.s), -EINVAL);
	w.size = UINT32_MAX;
	rq(FUSE_WRITE, e.nodeid);
	add(&w, sizeof(w));
	CHECK_INT(call(f.s), -EINVAL);
	struct stat st;
	CHECK_INT(lstat(host_path(&f, "f"), &st), 0);
	CHECK_INT(st.st_size, 0);
	/* READ asking for more than the reply can hold: cut to the room. */
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "0123456789", 10), 0);
	struct fuse_read_in rd = { .fh = fh, .size = 1 << 20 };
	rq(FUSE_READ, e.nodeid);
	add(&rd, sizeof(rd));
	CHECK_INT(send_room(f.s, 16 + 4), 0);
	CHECK_INT(payload_len(), 4);
	CHECK(memcmp(payload(), "0123", 4) == 0);
	/* No room even for a header: no reply at all. */
	rq(FUSE_GETATTR, e.nodeid);
	add(&(struct fuse_getattr_in){ 0 }, sizeof(struct fuse_getattr_in));
	CHECK_INT(send_room(f.s, 15), 1);
	/* Room for the header but not the entry: refused before acting. */
	struct fuse_mkdir_in mk = { .mode = 0755 };
	rq(FUSE_MKDIR, FUSE_ROOT_ID);
	add(&mk, sizeof(mk));
	adds("dir");
	CHECK_INT(send_room(f.s, 100), -EINVAL);
	CHECK(!host_exists(host_path(&f, "dir")));
	/* BATCH_FORGET counting more entries than it carries. */
	struct fuse_batch_forget_in bf = { .count = 1000000 };
	struct fuse_forget_one one = { .nodeid = e.nodeid, .nlookup = 1 };
	rq(FUSE_BATCH_FORGET, 0);
	add(&bf, sizeof(bf));
	add(&one, sizeof(one));
	CHECK_INT(send_room(f.s, 0), 1);
	CHECK_INT(live_inodes(f.s), 1);
	/* A request scattered over one-byte buffers parses the same. */
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	rq(FUSE_GETATTR, e.nodeid);
	add(&(struct fuse_getattr_in){ 0 }, sizeof(struct fuse_getattr_in));
	((struct fuse_in_header *)req)->len = (uint32_t)reqlen;
	struct iovec bytes[64], outs[10];
	for (size_t i = 0; i < reqlen; i++)
		bytes[i] = (struct iovec){ req + i, 1 };
	for (int i = 0; i < 10; i++)
		outs[i] = (struct iovec){ rep + i * 13, 13 };
	CHECK_INT(fuse_server_handle(f.s, bytes, (unsigned)reqlen, outs, 10),
		  sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	CHECK_INT(((struct fuse_out_header *)rep)->error, 0);
	CHECK_INT(((const struct fuse_attr_out *)payload())->attr.size, 10);
}

TEST(fs_tables_are_bounded)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh[4];
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .max_inodes = 4, .max_handles = 2 }) &&
	      do_init(f.s) == 0);

	for (int i = 0; i < 5; i++) {
		char n[8];
		snprintf(n, sizeof(n), "f%d", i);
		write_host(host_path(&f, n), "");
	}
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f0", &e), 0);
	uint64_t first = e.nodeid;
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f1", &e), 0);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f2", &e), 0);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f3", &e), -ENFILE);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT, 0644, NULL, NULL), -ENFILE);
	forget(f.s, first, 1);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f3", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh[0], false), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh[1], false), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDONLY, &fh[2], false), -ENFILE);
	CHECK_INT(open_(f.s, FUSE_ROOT_ID, O_RDONLY, &fh[2], true), -ENFILE);
	CHECK_INT(release_(f.s, e.nodeid, fh[0], false), 0);
	CHECK_INT(open_(f.s, FUSE_ROOT_ID, O_RDONLY, &fh[2], true), 0);
	CHECK(fh[2] != fh[0]); /* the reused slot has a new generation */
	CHECK_INT(read_(f.s, e.nodeid, fh[0], 0, 1), -EBADF);
}

/* A VM's shares draw from one pool of descriptors: together they never
 * hold more than the pool, and what one gives back the other may take. */
TEST(fs_shares_share_one_descriptor_pool)
{
	cleanup_fx struct fx a, b;
	struct fuse_fd_pool pool = { .limit = 5 };
	struct fuse_entry_out e;
	uint64_t fh;

	CHECK(fx_init_opts(&a, (struct fuse_share_opts){ .fd_pool = &pool }) && do_init(a.s) == 0);
	CHECK(fx_init_opts(&b, (struct fuse_share_opts){ .fd_pool = &pool }) && do_init(b.s) == 0);
	CHECK_INT(pool.used, 2); /* the roots */
	for (int i = 0; i < 3; i++) {
		char n[8];
		snprintf(n, sizeof(n), "f%d", i);
		write_host(host_path(&a, n), "");
		write_host(host_path(&b, n), "");
	}
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f0", &e), 0);
	uint64_t a0 = e.nodeid;
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f1", &e), 0);
	CHECK_INT(lookup(b.s, FUSE_ROOT_ID, "f0", &e), 0);
	uint64_t b0 = e.nodeid;
	/* Full: every way to a new descriptor fails cleanly, in both. */
	CHECK_INT(lookup(b.s, FUSE_ROOT_ID, "f1", &e), -ENFILE);
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f2", &e), -ENFILE);
	CHECK_INT(open_(a.s, a0, O_RDONLY, &fh, false), -ENFILE);
	CHECK_INT(open_(b.s, FUSE_ROOT_ID, O_RDONLY, &fh, true), -ENFILE);
	CHECK_INT(create_(b.s, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT, 0644, NULL, NULL), -ENFILE);
	/* A name already known costs nothing more. */
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f0", &e), 0);
	CHECK_INT(e.nodeid, a0);
	CHECK_INT(live_inodes(a.s) + live_inodes(b.s) + live_handles(a.s) + live_handles(b.s), 5);
	CHECK_INT(pool.used, 5);
	forget(a.s, a0, 2);
	CHECK_INT(open_(b.s, b0, O_RDONLY, &fh, false), 0);
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f2", &e), -ENFILE);
	CHECK_INT(release_(b.s, b0, fh, false), 0);
	CHECK_INT(lookup(a.s, FUSE_ROOT_ID, "f2", &e), 0);
	fuse_server_reset(a.s);
	CHECK_INT(pool.used, 3);
	fuse_server_free(b.s);
	b.s = NULL;
	CHECK_INT(pool.used, 1);
}

/* The plan husk's container process gets (rootfs and binds shares, vsock,
 * its control clients) splits the limit with nothing counted twice. */
TEST(fs_fd_budget_plan_splits_the_limit)
{
	husk_error_t err cleanup_error = NULL;
	struct vm_config cfg = {
		.cpus = 2, .rng = true, .vsock_cid = 3, .nshares = 2, .extra_fds = 66
	};
	struct fd_budget b;

	CHECK_INT(fd_budget_plan(&cfg, 1024, 20, &b, &err), 0);
	CHECK(b.reserve >= 20 + 66 + 2 + 2 * FUSE_SERVER_FIXED_FDS);
	CHECK_INT((uint64_t)b.reserve + b.vsock_conns + b.share_fds, 1024);
	CHECK(b.vsock_conns >= 1 && b.vsock_conns <= b.share_fds);
	CHECK_INT(fd_budget_plan(&cfg, 1U << 20, 20, &b, &err), 0);
	CHECK_INT(b.vsock_conns, VSOCK_MAX_CONNS);
	CHECK_INT((uint64_t)b.reserve + b.vsock_conns + b.share_fds, 1U << 20);
	/* No room left for the guest: refused, not a VM that cannot serve. */
	CHECK_INT(fd_budget_plan(&cfg, 64, 20, &b, &err), -1);
	CHECK(strstr(err->msg, "RLIMIT_NOFILE 64") != NULL);
}

/* With the process's real limit low and the guest taking every inode it
 * can in two shares, the VMM still has its reserve to open descriptors
 * from. */
static const char *fill_two_shares(struct fx *a, struct fx *b, uint32_t nofile)
{
	husk_error_t err cleanup_error = NULL;
	struct vm_config cfg = { .cpus = 1, .vsock_cid = 3, .nshares = 2, .extra_fds = 66 };
	struct fd_budget plan;
	static struct fuse_fd_pool pool;
	struct fuse_entry_out e;

	uint32_t open_now = fd_budget_count_open();
	if (fd_budget_plan(&cfg, nofile, open_now, &plan, &err) < 0)
		return "plan";
	pool = (struct fuse_fd_pool){ .limit = plan.share_fds };
	if (!fx_init_opts(a, (struct fuse_share_opts){ .fd_pool = &pool }) ||
	    !fx_init_opts(b, (struct fuse_share_opts){ .fd_pool = &pool }) || do_init(a->s) ||
	    do_init(b->s))
		return "servers";
	int full = 0;
	for (uint32_t i = 0; i < nofile && full < 2; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%u", i);
		write_host(host_path(a, n), "");
		write_host(host_path(b, n), "");
		full = 0;
		full += lookup(a->s, FUSE_ROOT_ID, n, &e) == -ENFILE;
		full += lookup(b->s, FUSE_ROOT_ID, n, &e) == -ENFILE;
	}
	if (full < 2)
		return "the shares never filled";
	if (pool.used != plan.share_fds)
		return "the pool is not used up";
	/* What the VMM opens later: everything in its reserve but what was
	 * open at planning and the shares' own /proc/self/fd. */
	uint32_t later = plan.reserve - open_now - 2;
	uint32_t now = fd_budget_count_open();
	if (now + later > nofile)
		return "the shares ate into the VMM's reserve";
	return NULL;
}

TEST(fs_two_shares_leave_the_vmm_its_reserve)
{
	cleanup_fx struct fx a = { 0 }, b = { 0 };
	struct rlimit rl;

	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	uint32_t nofile = fd_budget_count_open() + 400;
	if (rl.rlim_cur < nofile)
		SKIP("RLIMIT_NOFILE too low to lower");
	struct rlimit low = { nofile, rl.rlim_max };
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	const char *why = fill_two_shares(&a, &b, nofile);
	fx_release(&a);
	fx_release(&b);
	a = b = (struct fx){ 0 };
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
	if (why)
		printf("# %s\n", why);
	CHECK(why == NULL);
}

/* The server lives with the limit the process set: raising it is done
 * before the VMM confines itself (fd_budget_raise_nofile()), since later
 * it cannot raise the hard limit. */
TEST(fs_server_leaves_the_descriptor_limit_alone)
{
	cleanup_fx struct fx f;
	struct rlimit rl, now;

	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 512)
		SKIP("RLIMIT_NOFILE too low to lower");
	struct rlimit low = { 256, rl.rlim_max };
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	bool ok = fx_init(&f);
	getrlimit(RLIMIT_NOFILE, &now);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK(ok);
	CHECK_INT(now.rlim_cur, 256);
	/* And the raise gets the hard limit (or fs.nr_open) back. */
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	uint64_t got = fd_budget_raise_nofile();
	getrlimit(RLIMIT_NOFILE, &now);
	setrlimit(RLIMIT_NOFILE, &rl);
	CHECK(got >= rl.rlim_max && now.rlim_cur == got);
}

TEST(fs_destroy_and_reset_forget_everything)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
	CHECK_INT(live_inodes(f.s), 2);
	CHECK_INT(live_handles(f.s), 1);
	rq(FUSE_DESTROY, 0);
	CHECK_INT(call(f.s), 0);
	CHECK_INT(live_inodes(f.s), 1);
	CHECK_INT(live_handles(f.s), 0);
	CHECK_INT(getattr_(f.s, e.nodeid, NULL), -EIO); /* not initialized any more */
	CHECK_INT(do_init(f.s), 0);
	CHECK_INT(getattr_(f.s, e.nodeid, NULL), -ESTALE);
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 1), -EBADF);
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "g", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
	fuse_server_reset(f.s);
	CHECK_INT(live_inodes(f.s), 1);
	CHECK_INT(live_handles(f.s), 0);
}

TEST(fs_share_must_be_a_directory)
{
	husk_error_t err cleanup_error = NULL;
	struct fuse_share_opts o = { .dir = "/nonexistent/husk" };
	CHECK(fuse_server_new(&o, &err) == NULL);
	CHECK(strstr(err->msg, "/nonexistent/husk") != NULL);
	husk_error_release(&err);
	o.dir = "/etc/hostname";
	CHECK(fuse_server_new(&o, &err) == NULL);
}

/* ---- DAX --------------------------------------------------------------- */

#define MIB (1ULL << 20)

static int init_dax(struct fuse_server *s)
{
	struct fuse_init_in in = { .major = 7,
				   .minor = 38,
				   .max_readahead = 131072,
				   .flags = FUSE_MAX_PAGES | FUSE_MAP_ALIGNMENT | FUSE_INIT_EXT };
	rq(FUSE_INIT, 0);
	add(&in, sizeof(in));
	return call(s);
}

static int setupmapping_(struct fuse_server *s, uint64_t node, uint64_t foff, uint64_t len,
			 uint64_t flags, uint64_t moff)
{
	struct fuse_setupmapping_in in = {
		.fh = ~0ULL, .foffset = foff, .len = len, .flags = flags, .moffset = moff
	};
	rq(FUSE_SETUPMAPPING, node);
	add(&in, sizeof(in));
	return call(s);
}

/* REMOVEMAPPING of N ranges (moffset, len pairs in R). */
static int removemapping_(struct fuse_server *s, uint32_t n, const uint64_t *r)
{
	struct fuse_removemapping_in in = { .count = n };
	rq(FUSE_REMOVEMAPPING, FUSE_ROOT_ID);
	add(&in, sizeof(in));
	for (uint32_t i = 0; i < n; i++) {
		struct fuse_removemapping_one one = { .moffset = r[2 * i], .len = r[2 * i + 1] };
		add(&one, sizeof(one));
	}
	return call(s);
}

/* How many of this process's mappings are of host file PATH. */
static int mapped(const char *path)
{
	char line[512];
	int n = 0;
	FILE *fp = fopen("/proc/self/maps", "re");
	size_t plen = strlen(path);

	while (fp && fgets(line, sizeof(line), fp)) {
		size_t l = strlen(line);
		if (l > plen && line[l - 1] == '\n' &&
		    strncmp(line + l - 1 - plen, path, plen) == 0)
			n++;
	}
	if (fp)
		fclose(fp);
	return n;
}

/* A file of LEN bytes whose byte I is (I * 7) & 0xff. */
static void write_pattern(const char *path, size_t len)
{
	FILE *fp = fopen(path, "w");
	for (size_t i = 0; fp && i < len; i++)
		fputc((int)((i * 7) & 0xff), fp);
	if (fp)
		fclose(fp);
}

TEST(fs_dax_maps_host_pages_into_the_window)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint8_t *win;
	uint64_t size;
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .dax_window_size = 8 * MIB }));
	fuse_server_dax_window(f.s, (void **)&win, &size);
	CHECK(win != NULL && size == 8 * MIB);
	CHECK_INT((uintptr_t)win % FUSE_SERVER_DAX_ALIGN, 0);

	/* The alignment is offered only when the guest asks (it does for -o dax). */
	CHECK_INT(init_dax(f.s), 0);
	const struct fuse_init_out *o = payload();
	CHECK(o->flags & FUSE_MAP_ALIGNMENT);
	CHECK_INT(o->map_alignment, FUSE_SERVER_DAX_ALIGN_SHIFT);

	char *big = host_path(&f, "big");
	write_pattern(big, 3 * MIB);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "big", &e), 0);
	/* Read-only mapping of the file's second 2 MiB at the window's third. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 2 * MIB, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ,
				4 * MIB),
		  0);
	bool same = true;
	for (size_t i = 0; i < MIB; i++) /* the file ends 1 MiB in */
		same &= win[4 * MIB + i] == (uint8_t)(((2 * MIB + i) * 7) & 0xff);
	CHECK(same);
	CHECK_INT(mapped(big), 1);
	/* A writable mapping writes the host file in place. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB,
				FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE, 0),
		  0);
	CHECK_INT(win[4097], (4097 * 7) & 0xff);
	memcpy(win + 4096, "dax!", 4);
	char got[5] = { 0 };
	int fd = open(big, O_RDONLY);
	CHECK_INT(pread(fd, got, 4, 4096), 4);
	close(fd);
	CHECK_STR(got, "dax!");
	CHECK_INT(mapped(big), 2);
	/* A mapping replaces what was at its place in the window. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 4 * MIB),
		  0);
	CHECK(memcmp(win + 4 * MIB + 4096, "dax!", 4) == 0);
	/* REMOVEMAPPING leaves holes; then nothing holds the file. */
	uint64_t both[] = { 0, 2 * MIB, 4 * MIB, 2 * MIB };
	CHECK_INT(removemapping_(f.s, 2, both), 0);
	CHECK_INT(mapped(big), 0);
	/* A reset (or DESTROY) drops every mapping. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 6 * MIB),
		  0);
	CHECK_INT(mapped(big), 1);
	fuse_server_reset(f.s);
	CHECK_INT(mapped(big), 0);
}

TEST(fs_dax_refuses_bad_mappings)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e, d, fifo, link;
	const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .dax_window_size = 4 * MIB }) &&
	      init_dax(f.s) == 0);

	write_pattern(host_path(&f, "f"), 4096);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0755, &d), 0);
	CHECK_INT(mknod_(f.s, FUSE_ROOT_ID, "p", S_IFIFO | 0644, 0, &fifo), 0);
	CHECK_INT(symlink_(f.s, FUSE_ROOT_ID, "l", f.outside, &link), 0);
	/* Only regular files: never a directory, FIFO or symlink (followed
	 * on the host, it would map a file outside the share). */
	CHECK_INT(setupmapping_(f.s, d.nodeid, 0, 2 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, fifo.nodeid, 0, 2 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, link.nodeid, 0, 2 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, 0xdead00000007ULL, 0, 2 * MIB, R, 0), -ESTALE);
	/* Window ranges: aligned, whole pages, not empty, inside, no wrap. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, R, 4096), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 0, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 100, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 4 * MIB + 4096, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, R, 4 * MIB), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 4 * MIB, R, 2 * MIB), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, ~0ULL - 4095, R, 2 * MIB), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, R, ~0ULL - 2 * MIB + 1), -EINVAL);
	/* File offsets: aligned, and no file offset past the largest. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 4096, 2 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 1ULL << 63, 2 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, (1ULL << 63) - 2 * MIB, 4 * MIB, R, 0), -EINVAL);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, R | 4, 0), -EINVAL);
	CHECK_INT(mapped(host_path(&f, "f")), 0);
	/* A whole-window mapping is fine. */
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 4 * MIB, R | W, 0), 0);
	CHECK_INT(mapped(host_path(&f, "f")), 1);

	/* REMOVEMAPPING: the count must match the ranges sent, at most a
	 * page of them, and one bad range removes nothing. */
	uint64_t good_bad[] = { 0, 2 * MIB, 2 * MIB, 4 * MIB };
	CHECK_INT(removemapping_(f.s, 2, good_bad), -EINVAL);
	CHECK_INT(mapped(host_path(&f, "f")), 1);
	CHECK_INT(removemapping_(f.s, 0, NULL), -EINVAL);
	uint64_t one[] = { 0, 2 * MIB };
	CHECK_INT(removemapping_(f.s, 1, one), 0);
	struct fuse_removemapping_in in = { .count = 2 };
	rq(FUSE_REMOVEMAPPING, FUSE_ROOT_ID);
	add(&in, sizeof(in));
	add(one, sizeof(one)); /* says 2, carries 1 */
	CHECK_INT(call(f.s), -EINVAL);
	in.count = 257;
	rq(FUSE_REMOVEMAPPING, FUSE_ROOT_ID);
	add(&in, sizeof(in));
	for (int i = 0; i < 257; i++)
		add(one, sizeof(one));
	CHECK_INT(call(f.s), -EINVAL);
	CHECK(outside_intact(&f));
}

TEST(fs_dax_needs_a_window_and_a_writable_share)
{
	cleanup_fx struct fx f;
	cleanup_fx struct fx r = { 0 };
	cleanup_fx struct fx bad = { 0 };
	struct fuse_entry_out e;
	uint64_t one[] = { 0, 2 * MIB };

	/* No window: INIT offers no alignment, the requests are ENOSYS. */
	CHECK(fx_init(&f) && init_dax(f.s) == 0);
	CHECK(!(((const struct fuse_init_out *)payload())->flags & FUSE_MAP_ALIGNMENT));
	write_pattern(host_path(&f, "f"), 4096);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 0),
		  -ENOSYS);
	CHECK_INT(removemapping_(f.s, 1, one), -ENOSYS);

	/* A read-only share maps for reading only. */
	CHECK(fx_init_opts(&r, (struct fuse_share_opts){ .readonly = true,
							 .dax_window_size = 2 * MIB }) &&
	      init_dax(r.s) == 0);
	write_pattern(host_path(&r, "f"), 4096);
	CHECK_INT(lookup(r.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(setupmapping_(r.s, e.nodeid, 0, 2 * MIB,
				FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE, 0),
		  -EROFS);
	CHECK_INT(setupmapping_(r.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 0), 0);

	/* A window must be whole 2 MiB units. */
	CHECK(!fx_init_opts(&bad, (struct fuse_share_opts){ .dax_window_size = 3 * MIB }));

	/* A writable mapping lets the guest change the data: the file loses
	 * its set-ID bits first, a reading one leaves them. */
	cleanup_fx struct fx w = { 0 };
	CHECK(fx_init_opts(&w, (struct fuse_share_opts){ .dax_window_size = 2 * MIB }) &&
	      init_dax(w.s) == 0);
	write_pattern(host_path(&w, "f"), 4096);
	CHECK_INT(chmod(host_path(&w, "f"), 04755), 0);
	CHECK_INT(lookup(w.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(setupmapping_(w.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 0), 0);
	CHECK_INT(host_mode(&w, "f"), 04755);
	CHECK_INT(setupmapping_(w.s, e.nodeid, 0, 2 * MIB,
				FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE, 0),
		  0);
	CHECK_INT(host_mode(&w, "f"), 0755);
}

TEST(fs_share_spec_parses_options_from_the_right)
{
	husk_error_t err cleanup_error = NULL;
	struct vm_share sh;
	char buf[256];

	CHECK_INT(share_spec_parse("root=/var/lib/x", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.tag, "root");
	CHECK_STR(sh.dir, "/var/lib/x");
	CHECK(!sh.readonly && !sh.cache_always && !sh.allow_setid);
	CHECK_INT(share_spec_parse("t=/d:setid:ro", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.dir, "/d");
	CHECK(sh.readonly && sh.allow_setid);
	CHECK_INT(share_spec_parse("t=/a:b=c:ro:cache=always", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.tag, "t");
	CHECK_STR(sh.dir, "/a:b=c"); /* ':' and '=' inside DIR are its own */
	CHECK(sh.readonly && sh.cache_always);
	CHECK_INT(share_spec_parse("t=/d:cache=always:ro", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.dir, "/d");
	CHECK(sh.readonly && sh.cache_always);
	CHECK_INT(share_spec_parse("t=/d:rw", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.dir, "/d:rw");
	CHECK_INT(sh.dax_mib, 0);
	CHECK_INT(share_spec_parse("t=/d:dax", buf, sizeof(buf), &sh, &err), 0);
	CHECK_INT(sh.dax_mib, SHARE_DAX_DEFAULT_MIB);
	CHECK_INT(share_spec_parse("t=/d:dax=256:ro", buf, sizeof(buf), &sh, &err), 0);
	CHECK_STR(sh.dir, "/d");
	CHECK(sh.readonly);
	CHECK_INT(sh.dax_mib, 256);
	const char *bad[] = { "nodir",
			      "=/x",
			      "t=",
			      "t=:ro",
			      "0123456789012345678901234567890123456=/x",
			      "t=/d:dax=",
			      "t=/d:dax=3",
			      "t=/d:dax=0",
			      "t=/d:dax=-2",
			      "t=/d:dax=2x",
			      "t=/d:dax=131072",
			      "t=/d:dax=18446744073709551618" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(share_spec_parse(bad[i], buf, sizeof(buf), &sh, &err), -1);
		husk_error_release(&err);
	}
	CHECK_INT(share_spec_parse("t=/x", buf, 4, &sh, &err), -1);
}

/* ---- SYNCFS ------------------------------------------------------------ */

/* The server's syncfs() calls land here (the test binary's own definition
 * comes before libc's): counted, the last few start times kept, then made. */
#define SYNCS_KEPT 16
static unsigned host_syncs;
static struct timespec host_sync_at[SYNCS_KEPT];

int syncfs(int fd)
{
	clock_gettime(CLOCK_MONOTONIC, &host_sync_at[host_syncs++ % SYNCS_KEPT]);
	return (int)syscall(SYS_syncfs, fd);
}

static int syncfs_(struct fuse_server *s)
{
	struct fuse_syncfs_in in = { 0 };
	rq(FUSE_SYNCFS, FUSE_ROOT_ID);
	add(&in, sizeof(in));
	return call(s);
}

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000LL + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* A guest looping SYNCFS must not make the host sync a whole filesystem
 * (other tenants' data included) each time: without a change made through
 * the share, SYNCFS costs nothing. */
TEST(fs_syncfs_costs_nothing_without_changes)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	unsigned before = host_syncs;
	for (int i = 0; i < 1000; i++)
		CHECK_INT(syncfs_(f.s), 0);
	write_host(host_path(&f, "f"), "host");
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "f", &e), 0);
	CHECK_INT(open_(f.s, e.nodeid, O_RDWR, &fh, false), 0); /* opening changes nothing */
	CHECK_INT(read_(f.s, e.nodeid, fh, 0, 4), 0);
	CHECK_INT(release_(f.s, e.nodeid, fh, false), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(host_syncs, before);
}

/* What the guest wrote reaches the disk on SYNCFS, even through a file it
 * has closed since, and host syncs are spaced by the interval. */
TEST(fs_syncfs_syncs_changes_at_a_bounded_rate)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	uint64_t fh;
	CHECK(fx_ready(&f));

	unsigned first = host_syncs;
	CHECK_INT(create_(f.s, FUSE_ROOT_ID, "f", O_WRONLY | O_CREAT, 0644, &e, &fh), 0);
	CHECK_INT(write_(f.s, e.nodeid, fh, 0, "data", 4), 0);
	CHECK_INT(release_(f.s, e.nodeid, fh, false), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(host_syncs, first + 1);
	CHECK_INT(syncfs_(f.s), 0); /* nothing since */
	CHECK_INT(host_syncs, first + 1);
	/* A guest alternating a write and a SYNCFS gets its syncs, no
	 * closer together than the interval. */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(open_(f.s, e.nodeid, O_WRONLY, &fh, false), 0);
		CHECK_INT(write_(f.s, e.nodeid, fh, 0, "more", 4), 0);
		CHECK_INT(syncfs_(f.s), 0);
		CHECK_INT(release_(f.s, e.nodeid, fh, false), 0);
	}
	/* Truncation on open and a change of metadata count too. */
	CHECK_INT(open_(f.s, e.nodeid, O_WRONLY | O_TRUNC, &fh, false), 0);
	CHECK_INT(release_(f.s, e.nodeid, fh, false), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(mkdir_(f.s, FUSE_ROOT_ID, "d", 0755, NULL), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(host_syncs, first + 6);
	for (unsigned i = first + 1; i < first + 6; i++)
		CHECK(ms_between(&host_sync_at[(i - 1) % SYNCS_KEPT],
				 &host_sync_at[i % SYNCS_KEPT]) >= FUSE_SERVER_SYNCFS_INTERVAL_MS);
}

/* A writable DAX mapping changes files without requests: while one may
 * exist, SYNCFS always syncs; a read-only one changes nothing. */
TEST(fs_syncfs_with_dax_mappings)
{
	cleanup_fx struct fx f;
	struct fuse_entry_out e;
	CHECK(fx_init_opts(&f, (struct fuse_share_opts){ .dax_window_size = 4 * MIB }));
	CHECK_INT(init_dax(f.s), 0);
	write_pattern(host_path(&f, "big"), 2 * MIB);
	CHECK_INT(lookup(f.s, FUSE_ROOT_ID, "big", &e), 0);

	unsigned before = host_syncs;
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ, 0), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(host_syncs, before);
	CHECK_INT(setupmapping_(f.s, e.nodeid, 0, 2 * MIB,
				FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE,
				2 * MIB),
		  0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(syncfs_(f.s), 0);
	CHECK_INT(host_syncs, before + 2);
}
