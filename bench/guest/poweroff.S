/* The smallest PVH guest: its first instructions ask the VMM to power off.
 * One image for every VMM under test, so the guest's work is identical:
 * it tries, in order, the power-off doors each VMM offers and stops at the
 * first that works (a write to a door a VMM lacks costs one ignored exit).
 *   1. I/O port 0x600 <- 0x34: alioth's ACPI sleep control register
 *      (hardware-reduced ACPI, SLP_TYP 5 from _S5_, SLP_EN).
 *   2. MMIO 0xfea00200 <- 0x34: QEMU microvm's (acpi=on) GED sleep control
 *      register, same value.
 *   3. I/O port 0xf4 <- 0: QEMU's isa-debug-exit (exit status 1).
 * Entered in 32-bit protected mode, paging off, flat segments. */
	.code32
	.section .text, "ax"
	.globl	pvh_start32
pvh_start32:
	movb	$0x34, %al
	movw	$0x600, %dx
	outb	%al, %dx
	movb	$0x34, 0xfea00200
	xorb	%al, %al
	outb	%al, $0xf4
1:	cli
	hlt
	jmp	1b

/* PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18). */
	.section .note.Xen, "a"
	.balign	4
	.long	4
	.long	4
	.long	18
	.asciz	"Xen"
	.long	pvh_start32

	.section .note.GNU-stack, "", @progbits
