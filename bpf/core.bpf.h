/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CO-RE helpers shared by the stallwatch BPF programs. */
#ifndef STALLWATCH_CORE_BPF_H
#define STALLWATCH_CORE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "stallwatch.h"

/* bpf_get_current_task_btf (5.11+) makes the task's fields plain loads the
 * JIT inlines; each BPF_CORE_READ is a helper call instead (about 30 ns
 * apiece in a guest with the speculation mitigations): the fsync enter
 * program made sixteen on every call, now seven. Resolved against the
 * kernel's BTF at load: on 5.10 the branch is dead and the verifier never
 * sees the call. */
static __always_inline bool sw_have_task_btf(void)
{
	return bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf);
}

/* The current task's open file for fd, NULL when the fd is not open. Reads
 * task->files->fdt->fd[fd] the way the kernel's files_lookup_fd does,
 * without the RCU dance: a racing close can at worst give us the file that
 * was just closed. */
static __always_inline struct file *sw_fd_file(int fd)
{
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;
	unsigned int max_fds;

	if (fd < 0)
		return NULL;
	if (sw_have_task_btf()) {
		/* A kernel thread's NULL files reads as 0, not a fault. */
		fdt = bpf_get_current_task_btf()->files->fdt;
		if (!fdt)
			return NULL;
		max_fds = fdt->max_fds;
		fds = fdt->fd;
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		fdt = BPF_CORE_READ(task, files, fdt);
		if (!fdt)
			return NULL;
		max_fds = BPF_CORE_READ(fdt, max_fds);
		fds = BPF_CORE_READ(fdt, fd);
	}
	if ((unsigned int)fd >= max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

#define SW_MINORBITS 20

/* dev_t of a whole disk, kernel encoding; 0 without one. */
static __always_inline __u32 sw_disk_dev(struct gendisk *disk)
{
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << SW_MINORBITS) | (__u32)BPF_CORE_READ(disk, first_minor);
}

/* The whole disk under a file's filesystem, 0 where it has none (tmpfs,
 * overlayfs, network filesystems): what block requests are keyed by. */
static __always_inline __u32 sw_file_disk(struct file *file)
{
	if (!file)
		return 0;
	return sw_disk_dev(BPF_CORE_READ(file, f_inode, i_sb, s_bdev, bd_disk));
}

/* Superblock device of a file, 0 without one. */
static __always_inline __u32 sw_file_dev(struct file *file)
{
	if (!file)
		return 0;
	return BPF_CORE_READ(file, f_inode, i_sb, s_dev);
}

/* etcd's files by their place in its data directory: "*.wal" inside a
 * directory named "wal", and "db" inside "snap". The caller has read the
 * parent's name length, which rules out nearly every file by itself. */
static __always_inline __u16 sw_class_by_name(const unsigned char *name, __u32 len, const unsigned char *parent,
					      __u32 parent_len)
{
	char p[5] = {}, n[4] = {};

	/* A fixed size keeps the verifier happy; names are NUL-terminated, so
	 * four bytes of a three-letter name end in its NUL. */
	if (bpf_probe_read_kernel(p, 4, parent))
		return SW_FILE_OTHER;
	if (parent_len == 3 && p[0] == 'w' && p[1] == 'a' && p[2] == 'l' && len > 4 && len < 256) {
		if (bpf_probe_read_kernel(n, 4, name + len - 4))
			return SW_FILE_OTHER;
		if (n[0] == '.' && n[1] == 'w' && n[2] == 'a' && n[3] == 'l')
			return SW_FILE_WAL;
	}
	if (parent_len == 4 && p[0] == 's' && p[1] == 'n' && p[2] == 'a' && p[3] == 'p' && len == 2) {
		if (bpf_probe_read_kernel(n, 2, name))
			return SW_FILE_OTHER;
		if (n[0] == 'd' && n[1] == 'b')
			return SW_FILE_DB;
	}
	return SW_FILE_OTHER;
}

static __always_inline __u16 sw_file_class(struct file *file)
{
	struct dentry *d;
	__u32 parent_len;

	if (!file)
		return SW_FILE_OTHER;
	d = BPF_CORE_READ(file, f_path.dentry);
	parent_len = BPF_CORE_READ(d, d_parent, d_name.len);
	if (parent_len != 3 && parent_len != 4)
		return SW_FILE_OTHER;
	return sw_class_by_name(BPF_CORE_READ(d, d_name.name), BPF_CORE_READ(d, d_name.len),
				BPF_CORE_READ(d, d_parent, d_name.name), parent_len);
}

/* Read-only cast of a kernel pointer to its BTF type (6.2): loads through
 * it are plain loads that read 0 on a fault, where each BPF_CORE_READ hop
 * is a helper call. Only in programs the loader picks after a probe load
 * shows the kernel lets a tracepoint program call it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* sw_file_dev and sw_file_class by plain loads: the fsync enter program
 * read them in seven helper calls. */
static __always_inline void sw_file_facts_direct(struct file *file, __u32 *dev, __u16 *file_class)
{
	struct file *f;
	struct dentry *d;
	__u32 parent_len;

	*dev = 0;
	*file_class = SW_FILE_OTHER;
	if (!file)
		return;
	f = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	*dev = f->f_inode->i_sb->s_dev;
	d = f->f_path.dentry;
	parent_len = d->d_parent->d_name.len;
	if (parent_len == 3 || parent_len == 4)
		*file_class = sw_class_by_name(d->d_name.name, d->d_name.len, d->d_parent->d_name.name, parent_len);
}

#endif
