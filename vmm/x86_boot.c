#include "vmm/x86_boot.h"

#include <asm/bootparam.h>
#include <asm/e820.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

/* flags(12 bits) | base | limit, packed as the CPU reads descriptors. */
static uint64_t gdt_pack(uint64_t flags, uint64_t base, uint64_t limit)
{
	return ((base & 0xff000000ULL) << 32) | ((flags & 0xf0ffULL) << 40) |
	       ((limit & 0xf0000ULL) << 32) | ((base & 0x00ffffffULL) << 16) | (limit & 0xffffULL);
}

uint64_t boot_gdt_entry(int slot)
{
	switch (slot) {
	case BOOT_GDT_CODE64: return gdt_pack(0xa09b, 0, 0xfffff); /* L=1, exec/read */
	case BOOT_GDT_DATA: return gdt_pack(0xc093, 0, 0xfffff);   /* DB=1, read/write */
	case BOOT_GDT_TSS: return gdt_pack(0x808b, 0, 0xfffff);	   /* busy 64-bit TSS */
	default: return 0;
	}
}

/* Places file bytes [off, off + len) of FD at guest address GPA (inside RAM,
 * checked by the caller). Whole pages are mapped copy-on-write from the
 * file over the guest RAM mapping, so set-up touches none of them and the
 * guest faults in only what it reads; unaligned edges are copied. Guest RAM
 * is fresh anonymous memory here, so nothing needs zeroing around them. */
static int place_file(struct guest_memory *m, int fd, const uint8_t *data, uint64_t off,
		      uint64_t len, uint64_t gpa, husk_error_t *err)
{
	const uint64_t page = 4096;
	uint8_t *host = guest_mem_ptr(m, gpa, len);
	uint64_t head = (page - (gpa & (page - 1))) & (page - 1);

	/* gpa + head is page-aligned; the file offset there must be too. */
	if (len <= head || ((off + head) & (page - 1))) {
		memcpy(host, data + off, len); /* not page-congruent: copy all */
		return 0;
	}
	uint64_t body = (len - head) & ~(page - 1);
	memcpy(host, data + off, head);
	if (body && mmap(host + head, body, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
			 (off_t)(off + head)) == MAP_FAILED)
		return husk_error_set(err, errno, "map kernel or initramfs into guest memory");
	memcpy(host + head + body, data + off + head + body, len - head - body);
	return 0;
}

static int load_elf(struct guest_memory *m, int fd, const uint8_t *data, size_t len,
		    struct boot_kernel *k, husk_error_t *err)
{
	const Elf64_Ehdr *eh = (const void *)data;

	if (len < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
		return husk_error_set(err, 0, "kernel: not an x86-64 ELF executable");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return husk_error_set(err, 0, "kernel: program headers outside the file");

	const Elf64_Phdr *ph = (const void *)(data + eh->e_phoff);
	uint64_t end = 0;
	int loaded = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > len ||
		    ph[i].p_filesz > len - ph[i].p_offset)
			return husk_error_set(err, 0, "kernel: segment %d outside the file", i);
		uint8_t *dst = guest_mem_ptr(m, ph[i].p_paddr, ph[i].p_memsz);
		if (!dst || ph[i].p_paddr < BOOT_HIMEM)
			return husk_error_set(
				err, 0,
				"kernel: segment %d at 0x%llx+0x%llx does not fit in guest RAM above 1 MiB",
				i, (unsigned long long)ph[i].p_paddr,
				(unsigned long long)ph[i].p_memsz);
		if (fd >= 0) {
			if (place_file(m, fd, data, ph[i].p_offset, ph[i].p_filesz, ph[i].p_paddr,
				       err) < 0)
				return -1;
		} else {
			memcpy(dst, data + ph[i].p_offset, ph[i].p_filesz);
			memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
		}
		if (ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
		loaded++;
	}
	if (!loaded)
		return husk_error_set(err, 0, "kernel: no loadable segment");
	/* vmlinux's entry is startup_64's physical address (the linker script
	 * sets ENTRY(phys_startup_64)), which is what a 64-bit loader calls. */
	if (!guest_mem_ptr(m, eh->e_entry, 1))
		return husk_error_set(err, 0, "kernel: entry point 0x%llx outside RAM",
				      (unsigned long long)eh->e_entry);
	k->entry = eh->e_entry;
	k->end = end;
	k->is_bzimage = false;
	return 0;
}

static int load_bzimage(struct guest_memory *m, const uint8_t *data, size_t len,
			struct boot_kernel *k, husk_error_t *err)
{
	struct setup_header hdr;

	memcpy(&hdr, data + 0x1f1, sizeof(hdr));
	/* 2.12 brought xloadflags, which says whether a 64-bit entry exists. */
	if (hdr.version < 0x20c || !(hdr.xloadflags & XLF_KERNEL_64))
		return husk_error_set(
			err, 0, "kernel: bzImage protocol %x.%02x has no 64-bit entry (need 2.12+)",
			hdr.version >> 8, hdr.version & 0xff);
	size_t setup = ((size_t)(hdr.setup_sects ? hdr.setup_sects : 4) + 1) * 512;
	if (setup >= len)
		return husk_error_set(err, 0, "kernel: bzImage shorter than its setup code");
	size_t payload = len - setup;
	/* The kernel decompresses itself in place and needs init_size bytes. */
	uint64_t need = payload > hdr.init_size ? payload : hdr.init_size;
	uint8_t *dst = guest_mem_ptr(m, BOOT_HIMEM, need);
	if (!dst)
		return husk_error_set(err, 0, "kernel: bzImage needs %llu MiB of RAM above 1 MiB",
				      (unsigned long long)(need >> 20) + 1);
	memcpy(dst, data + setup, payload);
	size_t hlen = 0x202 + data[0x201] - 0x1f1; /* byte 0x201: header end */
	if (hlen > sizeof(k->setup_header))
		hlen = sizeof(k->setup_header);
	memcpy(k->setup_header, data + 0x1f1, hlen);
	k->setup_header_len = hlen;
	k->entry = BOOT_HIMEM + 0x200;
	k->end = BOOT_HIMEM + need;
	k->is_bzimage = true;
	return 0;
}

static int load_kernel(struct guest_memory *m, int fd, const uint8_t *data, size_t len,
		       struct boot_kernel *k, husk_error_t *err)
{
	*k = (struct boot_kernel){ 0 };
	if (len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0)
		return load_elf(m, fd, data, len, k, err);
	if (len > 0x1f1 + sizeof(struct setup_header) && data[0x1fe] == 0x55 &&
	    data[0x1ff] == 0xaa && memcmp(data + 0x202, "HdrS", 4) == 0)
		return load_bzimage(m, data, len, k, err);
	return husk_error_set(err, 0, "kernel: neither an ELF vmlinux nor a bzImage");
}

int boot_load_kernel_image(struct guest_memory *m, const uint8_t *data, size_t len,
			   struct boot_kernel *k, husk_error_t *err)
{
	return load_kernel(m, -1, data, len, k, err);
}

/* Maps PATH read-only; *len gets its size. Errors call it NAME. */
static void *map_file(const char *path, const char *name, size_t *len, int *fdp, husk_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		husk_error_set(err, errno, "open %s", name);
		return NULL;
	}
	if (st.st_size == 0) {
		husk_error_set(err, 0, "%s is empty", name);
		return NULL;
	}
	void *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		husk_error_set(err, errno, "map %s", name);
		return NULL;
	}
	*len = st.st_size;
	*fdp = steal_fd(&fd);
	return p;
}

int boot_load_kernel(struct guest_memory *m, const char *path, const char *name,
		     struct boot_kernel *k, husk_error_t *err)
{
	size_t len;
	cleanup_close int fd = -1;
	if (!name)
		name = path;
	void *data = map_file(path, name, &len, &fd, err);

	if (!data)
		return -1;
	int r = load_kernel(m, fd, data, len, k, err);
	munmap(data, len);
	return r < 0 ? husk_error_wrap(err, "%s", name) : 0;
}

int boot_load_initrd(struct guest_memory *m, const char *path, const char *name,
		     const struct boot_kernel *k, uint64_t *gpa, uint64_t *size, husk_error_t *err)
{
	size_t len;
	cleanup_close int fd = -1;
	if (!name)
		name = path;
	void *data = map_file(path, name, &len, &fd, err);

	if (!data)
		return -1;
	/* Top of low RAM, but below 2 GiB: initrd_addr_max of every 64-bit
	 * kernel is at least 0x7fffffff. */
	uint64_t top = guest_mem_low_end(m);
	if (top > 0x80000000ULL)
		top = 0x80000000ULL;
	uint64_t addr = len <= top ? (top - len) & ~0xfffULL : 0;
	if (len > top || addr < k->end) {
		munmap(data, len);
		return husk_error_set(
			err, 0, "initramfs %s (%zu KiB) does not fit in guest RAM above the kernel",
			name, len >> 10);
	}
	int r = place_file(m, fd, data, 0, len, addr, err);
	munmap(data, len);
	if (r < 0)
		return -1;
	*gpa = addr;
	*size = len;
	return 0;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];
	e->addr = addr;
	e->size = size;
	e->type = type;
}

int boot_write_zero_page(struct guest_memory *m, const struct boot_kernel *k, const char *cmdline,
			 uint64_t initrd_gpa, uint64_t initrd_size, husk_error_t *err)
{
	struct boot_params *bp = guest_mem_ptr(m, BOOT_ZERO_PAGE, sizeof(*bp));
	size_t clen = strlen(cmdline);
	char *cl = guest_mem_ptr(m, BOOT_CMDLINE, BOOT_CMDLINE_MAX);

	if (!bp || !cl)
		return husk_error_set(err, 0, "guest RAM too small for the zero page");
	if (clen >= BOOT_CMDLINE_MAX)
		return husk_error_set(err, 0, "kernel command line is %zu bytes; the limit is %d",
				      clen, BOOT_CMDLINE_MAX - 1);
	memset(bp, 0, sizeof(*bp));
	if (k->is_bzimage)
		memcpy(&bp->hdr, k->setup_header, k->setup_header_len);
	bp->hdr.type_of_loader = 0xff; /* "undefined" loader */
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448; /* "HdrS" */
	if (!k->is_bzimage)
		bp->hdr.kernel_alignment = 0x1000000;
	bp->hdr.loadflags |= LOADED_HIGH;
	memcpy(cl, cmdline, clen + 1);
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)clen;
	bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;

	/* Base memory up to the MP table, then everything from 1 MiB. The
	 * hole between holds the MP table and stands for the legacy BIOS area
	 * Linux expects to find reserved. */
	e820_add(bp, 0, BOOT_MPTABLE, E820_RAM);
	e820_add(bp, BOOT_MPTABLE, BOOT_HIMEM - BOOT_MPTABLE, E820_RESERVED);
	e820_add(bp, BOOT_HIMEM, m->regions[0].size - BOOT_HIMEM, E820_RAM);
	if (m->nregions > 1)
		e820_add(bp, m->regions[1].gpa, m->regions[1].size, E820_RAM);
	return 0;
}

/* Intel MultiProcessor Specification 1.4 structures. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apicid, apicver, cpuflag;
	uint32_t cpufeature, featureflag, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

static uint8_t mp_checksum(const void *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ((const uint8_t *)p)[i];
	return (uint8_t)-sum;
}

int boot_write_mptable(struct guest_memory *m, int ncpus, husk_error_t *err)
{
	size_t size = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
		      ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + (IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc);
	uint8_t *base = guest_mem_ptr(m, BOOT_MPTABLE, size);

	if (ncpus < 1 || ncpus > MAX_VCPUS)
		return husk_error_set(err, 0, "%d vCPUs: must be 1 to %d", ncpus, MAX_VCPUS);
	if (!base || BOOT_MPTABLE + size > BOOT_HIMEM)
		return husk_error_set(err, 0, "MP table for %d vCPUs does not fit below 1 MiB",
				      ncpus);
	memset(base, 0, size);

	struct mpf_intel *mpf = (void *)base;
	struct mpc_table *mpc = (void *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint16_t entries = 0;
	uint8_t ioapic_id = (uint8_t)ncpus; /* after the LAPIC ids */

	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu *c = (void *)p;
		c->type = 0;
		c->apicid = (uint8_t)i;
		c->apicver = 0x14;
		c->cpuflag = 1 | (i == 0 ? 2 : 0); /* enabled, boot processor */
		c->cpufeature = 0x600;		   /* family 6 */
		c->featureflag = (1 << 9) | 1;	   /* APIC, FPU */
		p += sizeof(*c);
		entries++;
	}
	struct mpc_bus *bus = (void *)p;
	bus->type = 1;
	bus->busid = 0;
	memcpy(bus->bustype, "ISA   ", 6);
	p += sizeof(*bus);
	entries++;

	struct mpc_ioapic *io = (void *)p;
	io->type = 2;
	io->apicid = ioapic_id;
	io->apicver = 0x11;
	io->flags = 1; /* enabled */
	io->apicaddr = (uint32_t)IOAPIC_ADDR;
	p += sizeof(*io);
	entries++;

	/* ISA IRQ n on IO-APIC pin n, with the bus's default polarity and
	 * trigger (edge, active high): what irqfd injection delivers. */
	for (int irq = 0; irq < IOAPIC_PINS; irq++) {
		struct mpc_intsrc *s = (void *)p;
		s->type = 3;
		s->irqtype = 0; /* INT */
		s->srcbus = 0;
		s->srcbusirq = (uint8_t)irq;
		s->dstapic = ioapic_id;
		s->dstirq = (uint8_t)irq;
		p += sizeof(*s);
		entries++;
	}
	/* Local interrupts: the 8259's output on LINT0 and NMI on LINT1 of
	 * every LAPIC (0xff), as a PC wires them. */
	for (int lint = 0; lint < 2; lint++) {
		struct mpc_intsrc *s = (void *)p;
		s->type = 4;
		s->irqtype = lint == 0 ? 3 /* ExtINT */ : 1 /* NMI */;
		s->dstapic = 0xff;
		s->dstirq = (uint8_t)lint;
		p += sizeof(*s);
		entries++;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "HUSK    ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->oemcount = entries;
	mpc->lapic = (uint32_t)LAPIC_ADDR;
	mpc->checksum = mp_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(BOOT_MPTABLE + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = mp_checksum(mpf, sizeof(*mpf));
	return 0;
}

int boot_write_page_tables(struct guest_memory *m, husk_error_t *err)
{
	uint64_t *pml4 = guest_mem_ptr(m, BOOT_PML4, 4096);
	uint64_t *pdpt = guest_mem_ptr(m, BOOT_PDPT, 4096);
	uint64_t *pd = guest_mem_ptr(m, BOOT_PD, 4096);
	uint64_t *gdt = guest_mem_ptr(m, BOOT_GDT_ADDR, 4 * sizeof(uint64_t));
	uint64_t *idt = guest_mem_ptr(m, BOOT_IDT_ADDR, sizeof(uint64_t));

	if (!pml4 || !pdpt || !pd || !gdt || !idt)
		return husk_error_set(err, 0, "guest RAM too small for boot page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT | 0x3; /* present, writable */
	pdpt[0] = BOOT_PD | 0x3;
	/* 512 x 2 MiB pages: the first 1 GiB, enough for the kernel to reach
	 * its own page tables. */
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	for (int i = 0; i < 4; i++)
		gdt[i] = boot_gdt_entry(i);
	*idt = 0;
	return 0;
}
