/* The Linux x86 64-bit boot protocol, written into guest memory before the
 * first vCPU runs: kernel image (ELF vmlinux or bzImage), initramfs, zero
 * page (boot_params) with the command line and e820 map, an Intel MP table
 * describing the CPUs and IO-APIC (there is no ACPI), and identity-mapped
 * page tables and a GDT so the vCPU can start directly in long mode.
 *
 * Guest physical layout below 1 MiB (all inside the first RAM region):
 *   0x500  GDT, 0x520 IDT, 0x7000 zero page, 0x8ff0 boot stack top,
 *   0x9000 PML4, 0xa000 PDPT, 0xb000 PD, 0x20000 command line,
 *   0x9fc00 MP table (the spot Linux scans: the last KiB of base memory). */
#ifndef HUSK_VMM_X86_BOOT_H
#define HUSK_VMM_X86_BOOT_H

#include <stdint.h>

#include "vmm/memory.h"

#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_IDT_ADDR 0x520ULL
#define BOOT_ZERO_PAGE 0x7000ULL
#define BOOT_STACK_TOP 0x8ff0ULL
#define BOOT_PML4 0x9000ULL
#define BOOT_PDPT 0xa000ULL
#define BOOT_PD 0xb000ULL
#define BOOT_CMDLINE 0x20000ULL
#define BOOT_CMDLINE_MAX 2048 /* x86 COMMAND_LINE_SIZE, NUL included */
#define BOOT_MPTABLE 0x9fc00ULL
#define BOOT_HIMEM 0x100000ULL

#define BOOT_GDT_CODE64 1 /* GDT slots; selector = slot * 8 */
#define BOOT_GDT_DATA 2
#define BOOT_GDT_TSS 3

#define IOAPIC_ADDR 0xfec00000ULL
#define LAPIC_ADDR 0xfee00000ULL
#define IOAPIC_PINS 24
#define MAX_VCPUS 64

struct boot_kernel {
	uint64_t entry; /* 64-bit entry point, guest physical */
	uint64_t end;	/* first byte after the loaded image */
	bool is_bzimage;
	uint8_t setup_header[0x7f]; /* bzImage: header bytes from 0x1f1 */
	size_t setup_header_len;
};

/* Loads the kernel file at PATH into guest memory. Errors call it NAME
 * (the path the user knows it by, when PATH is not; NULL: PATH). */
int boot_load_kernel(struct guest_memory *m, const char *path, const char *name,
		     struct boot_kernel *k, husk_error_t *err);

/* Loads the image bytes (for tests and for callers with the file mapped). */
int boot_load_kernel_image(struct guest_memory *m, const uint8_t *data, size_t len,
			   struct boot_kernel *k, husk_error_t *err);

/* Places the initramfs at the top of low RAM, page-aligned, above the
 * kernel. Returns its address in *gpa. */
int boot_load_initrd(struct guest_memory *m, const char *path, const char *name,
		     const struct boot_kernel *k, uint64_t *gpa, uint64_t *size, husk_error_t *err);

/* Zero page: setup header, command line, initramfs, e820 map. */
int boot_write_zero_page(struct guest_memory *m, const struct boot_kernel *k, const char *cmdline,
			 uint64_t initrd_gpa, uint64_t initrd_size, husk_error_t *err);

/* MP floating pointer + configuration table for NCPUS processors, one ISA
 * bus and one IO-APIC whose pins 0..23 carry ISA IRQs 0..23. */
int boot_write_mptable(struct guest_memory *m, int ncpus, husk_error_t *err);

/* Identity page tables for the first 1 GiB and the boot GDT. */
int boot_write_page_tables(struct guest_memory *m, husk_error_t *err);

/* The 8-byte GDT descriptor values, for the segment registers too. */
uint64_t boot_gdt_entry(int slot);

#endif
