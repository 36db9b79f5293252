/* Names the OCI config may use, one table each. The config parser accepts
 * exactly these and `husk features` prints exactly these, so what husk
 * claims and what it accepts cannot drift apart. */
#ifndef HUSK_OCI_TABLES_H
#define HUSK_OCI_TABLES_H

#include <stdbool.h>
#include <stddef.h>

struct oci_name_table {
	const char *const *names;
	size_t count;
};

extern const struct oci_name_table oci_capabilities;
extern const struct oci_name_table oci_namespaces;
extern const struct oci_name_table oci_mount_options;
extern const struct oci_name_table oci_hooks;
extern const struct oci_name_table oci_seccomp_actions;
extern const struct oci_name_table oci_seccomp_operators;
extern const struct oci_name_table oci_seccomp_archs;
extern const struct oci_name_table oci_seccomp_flags;

/* Index of NAME in T, or -1. */
int oci_name_lookup(const struct oci_name_table *t, const char *name);

#endif
