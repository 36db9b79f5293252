/* I/O ports husk's guest side writes to; shared by vmm/ and rootfs/ so both
 * agree on one definition. Each is a 32-bit OUT. */
#ifndef HUSK_PROTO_GUEST_PORTS_H
#define HUSK_PROTO_GUEST_PORTS_H

/* The guest's init writes HUSK_BOOT_MAGIC here as soon as it starts; the
 * VMM records the time since its own start (the boot-timer). */
#define HUSK_PORT_BOOT_TIMER 0x440
#define HUSK_BOOT_MAGIC 0x4b535548u /* "HUSK" */

/* The guest's exit status, written just before it resets the machine:
 * bits 0-7 the exit code, bits 8-15 a terminating signal (0 for none),
 * bit 31 set to mark the value valid. x86 has no power-off without ACPI,
 * so "power off" is this write followed by a reset (reboot=k). */
#define HUSK_PORT_EXIT 0x444
#define HUSK_EXIT_VALID 0x80000000u

#endif
