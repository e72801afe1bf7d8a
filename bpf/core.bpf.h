/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CO-RE helpers shared by the stallwatch BPF programs. */
#ifndef STALLWATCH_CORE_BPF_H
#define STALLWATCH_CORE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* Superblock device of the current task's open fd, 0 when the fd is not
 * open. Reads task->files->fdt->fd[fd] the way the kernel's files_lookup_fd
 * does, without the RCU dance: a racing close can at worst give us the
 * device of the file that was just closed. */
static __always_inline __u32 sw_fd_dev(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	return BPF_CORE_READ(file, f_inode, i_sb, s_dev);
}

static __always_inline __u32 sw_file_dev(struct file *file)
{
	if (!file)
		return 0;
	return BPF_CORE_READ(file, f_inode, i_sb, s_dev);
}

#endif
