/* The running VM's insides, for vmm/'s own files only (vm.c, the vCPU
 * threads): callers of vm.h configure a VM, run it and read its result,
 * and cannot reach into its state while it runs. vCPU threads report how
 * the VM ends through vm_request_stop() alone. */
#ifndef HUSK_VMM_VM_INTERNAL_H
#define HUSK_VMM_VM_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vmm/console_log.h"
#include "vmm/event_loop.h"
#include "vmm/fd_budget.h"
#include "vmm/io_bus.h"
#include "vmm/memory.h"
#include "vmm/serial.h"
#include "vmm/vm.h"
#include "vmm/x86_boot.h"
#include "vmm/virtio/fuse_server.h"

struct virtio_mmio_dev;

#define VM_MAX_VIRTIO 16
#define VIRTIO_MMIO_BASE 0xd0000000ULL
#define VIRTIO_MMIO_SIZE 0x1000ULL
#define VIRTIO_IRQ_FIRST 5

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	struct guest_memory mem;
	struct io_bus pio, mmio;
	struct event_loop loop;
	struct console_log console;
	struct serial serial;
	int ncpus;
	struct vcpu vcpus[MAX_VCPUS];
	struct virtio_mmio_dev *virtio[VM_MAX_VIRTIO];
	int nvirtio;
	/* Devices' shared memory regions go above RAM, from here up; each is
	 * one more memory slot after RAM's. */
	uint64_t shm_next_gpa;
	uint32_t nshm;
	struct event_source signals;
	struct timespec t0; /* when the VMM started, for the boot timer */
	struct fd_budget fds;
	struct fuse_fd_pool share_fds; /* every share's inodes and handles */

	pthread_mutex_t lock; /* guards the fields below */
	enum vm_outcome outcome;
	uint32_t guest_status; /* last HUSK_PORT_EXIT write */
	int host_signal;       /* the signal that stopped the VM, if one did */
	char message[512];
	uint64_t setup_ns, boot_ns;
};

/* Ends the VM with OUTCOME (the first caller wins); any thread may call it. */
void vm_request_stop(struct vm *vm, enum vm_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint64_t vm_elapsed_ns(const struct vm *vm);

/* Whether vCPU ID may enter KVM_RUN (again): false once the VM has an
 * outcome. vCPU 0's first call marks the end of set-up (setup_ns). */
bool vm_vcpu_may_run(struct vm *vm, int id);

/* Adds a virtio-mmio device: its MMIO window, IRQ and command-line entry. */
int vm_add_virtio(struct vm *vm, struct virtio_mmio_dev *dev, husk_error_t *err);

#endif
