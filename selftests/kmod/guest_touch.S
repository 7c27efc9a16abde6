/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest of qemu_postcopy_test: a multiboot image (QEMU's -kernel loads
 * it, no firmware setup or guest kernel needed) that writes every page of
 * a 64 MiB guest's RAM above 2 MiB, over and over, so that a destination
 * running it after the switchover faults on every page it has not got.
 * It goes from the top down: QEMU pushes pages from the bottom up, so the
 * vCPU runs into pages that have not come rather than trailing the push.
 * Built with 'as --32' and 'ld -m elf_i386', never committed as a binary.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set RAM_FROM, 0x200000		/* above the image and the stack-less loop */
	.set RAM_TO, 0x3E00000		/* 62 MiB: below QEMU's top of RAM */

	.text
	.globl _start
	.align 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

_start:
	cli
pass:
	mov $RAM_TO, %edi
page:
	sub $4096, %edi
	incl (%edi)
	cmp $RAM_FROM, %edi
	ja page
	jmp pass
