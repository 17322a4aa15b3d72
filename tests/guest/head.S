/* Entry points of the test guest: the Linux 32-bit entry (offset 0) and
 * 64-bit entry (offset 0x200) of a bzImage, the PVH 32-bit entry, the
 * exception stubs and the real-mode AP trampoline copied below 1 MiB. */

#define BOOT_KIND_LINUX 0
#define BOOT_KIND_PVH   1

#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18

#define MSR_EFER   0xC0000080
#define EFER_LME   (1 << 8)
#define CR0_PE     1
#define CR0_PG     0x80000000
#define CR4_PAE    (1 << 5)

#define TRAMP_BASE 0x30000

	.section .head.text, "ax"
	.code32
	.globl startup_32
/* Linux 32-bit boot protocol: flat segments (%ds = 0x18), %esi = zero page,
 * possibly loaded somewhere else than our link address (QEMU: 1 MiB). */
startup_32:
	cli
	cld
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	/* boot_params.scratch (0x1e4) is the protocol's stack for call/pop */
	leal	0x1e8(%esi), %esp
	call	1f
1:	popl	%ebp
	subl	$(1b - startup_32), %ebp
	movl	%esi, %ebx
	movl	$_image_start, %edi
	cmpl	%edi, %ebp
	je	2f
	movl	%ebp, %esi
	movl	$_image_size, %ecx
	rep movsb
2:	movl	$BOOT_KIND_LINUX, %eax
	movl	$common32, %ecx
	jmp	*%ecx

	.org	0x200
	.code64
	.globl startup_64
/* Linux 64-bit boot protocol: long mode, identity map, %rsi = zero page. */
startup_64:
	cli
	cld
	movq	%rsi, %rbx
	leaq	startup_32(%rip), %rsi
	movq	$_image_start, %rdi
	cmpq	%rdi, %rsi
	je	1f
	movq	$_image_size, %rcx
	rep movsb
1:	movq	$2f, %rax
	jmp	*%rax
	/* from here on at the link address; the loader's stack is not ours */
2:	movq	$boot_stack_top, %rsp
	lgdt	gdt_desc
	pushq	$SEL_CODE64
	pushq	$3f
	lretq
3:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$_bss_start, %rdi
	movq	$_bss_end, %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	movq	$boot_stack_top, %rsp
	movl	$BOOT_KIND_LINUX, %edi
	movq	%rbx, %rsi
	call	kmain
	jmp	halt_forever

	.code32
	.globl pvh_start32
/* PVH: 32-bit protected mode, paging off, %ebx = hvm_start_info. */
pvh_start32:
	cli
	cld
	movl	$BOOT_KIND_PVH, %eax
	/* fall through */

/* %eax = boot kind, %ebx = boot information; running at the link address. */
common32:
	movl	%eax, %ebp
	lgdt	gdt_desc
	ljmp	$SEL_CODE32, $1f
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$_bss_start, %edi
	movl	$_bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	/* bootstrap map of 0..4 GiB with 2 MiB pages; C extends it later */
	movl	$boot_pdpt, %eax
	orl	$3, %eax
	movl	%eax, boot_pml4
	movl	$boot_pd, %eax
	orl	$3, %eax
	movl	$boot_pdpt, %edi
	movl	$4, %ecx
2:	movl	%eax, (%edi)
	addl	$0x1000, %eax
	addl	$8, %edi
	loop	2b
	movl	$boot_pd, %edi
	movl	$0x83, %eax
	movl	$2048, %ecx
3:	movl	%eax, (%edi)
	addl	$0x200000, %eax
	addl	$8, %edi
	loop	3b
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $long64

	.code64
long64:
	movq	$boot_stack_top, %rsp
	movl	%ebp, %edi
	movl	%ebx, %esi
	call	kmain
	jmp	halt_forever

	.globl halt_forever
halt_forever:
	cli
	hlt
	jmp	halt_forever

/* Exception stubs, 16 bytes apart: push a dummy error code where the CPU
 * pushes none, then the vector, and hand the frame to trap_handler. */
	.balign 16
	.globl trap_stubs
trap_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common
	.endr

trap_common:
	movq	%rsp, %rdi
	andq	$-16, %rsp
	call	trap_handler
	jmp	halt_forever

/* AP trampoline: copied to TRAMP_BASE, entered by SIPI vector 0x30 in real
 * mode with %cs = 0x3000. Goes through 32-bit protected mode into long mode
 * with the BSP's page tables, then calls tramp_entry(tramp_arg). */
	.section .rodata
	.balign 16
	.globl tramp_start, tramp_end, tramp_cr3, tramp_stack, tramp_entry, tramp_arg
#define TR(x) (TRAMP_BASE + (x) - tramp_start)
	.code16
tramp_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	(tramp_gdt_desc - tramp_start)
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $TR(tramp32)
	.code32
tramp32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	TR(tramp_cr3), %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$CR0_PG, %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $TR(tramp64)
	.code64
tramp64:
	movq	TR(tramp_stack), %rsp
	movq	TR(tramp_arg), %rdi
	movq	TR(tramp_entry), %rax
	call	*%rax
1:	cli
	hlt
	jmp	1b
	.balign 8
tramp_gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
tramp_cr3:	.long 0
	.balign 8
tramp_stack:	.quad 0
tramp_entry:	.quad 0
tramp_arg:	.quad 0
tramp_end:

	.balign 16
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad	0x00af9a000000ffff	/* 0x10: 64-bit code */
	.quad	0x00cf92000000ffff	/* 0x18: data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

/* PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18). */
	.section .note.Xen, "a"
	.balign 4
	.long	4
	.long	4
	.long	18
	.asciz	"Xen"
	.long	pvh_start32

	.section .bss
	.balign 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
	.balign 16
	.skip 16384
boot_stack_top:
	.section .note.GNU-stack, "", @progbits
