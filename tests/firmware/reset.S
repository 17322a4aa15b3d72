/* The test firmware's first instructions: KVM starts the boot vCPU in real
 * mode with CS base 0xFFFF0000 and IP 0xFFF0. Load a flat GDT, enter 32-bit
 * protected mode (segments as the Linux 32-bit boot protocol wants them:
 * code 0x10, data 0x18), set a stack in RAM, clear .bss and call fw_main. */

#define ROM_BASE   0xFFFF0000
#define SEL_CODE32 0x10
#define SEL_DATA   0x18
#define STACK_TOP  0x70000

	/* placed just below the reset vector: a near jump reaches it */
	.section .text16, "ax"
	.code16
start16:
	cli
	cld
	/* 0x66: the 32-bit form, so the GDT base can lie above 16 MiB */
	lgdtl	%cs:(gdt_desc - ROM_BASE)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	/* ljmpl $SEL_CODE32, $start32 */
	.byte	0x66, 0xea
	.long	start32
	.word	SEL_CODE32

	.section .text.start, "ax"
	.code32
start32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$STACK_TOP, %esp
	movl	$_bss_start, %edi
	movl	$_bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	call	fw_main
1:	hlt
	jmp	1b

/* Enters the kernel's 32-bit entry: %esi = zero page, interrupts off. */
	.globl	enter_kernel32
enter_kernel32:
	movl	4(%esp), %eax
	movl	8(%esp), %esi
	xorl	%ebx, %ebx
	xorl	%ebp, %ebp
	xorl	%edi, %edi
	jmp	*%eax

	.section .text16, "ax"
	.balign	8
gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x18: flat data */
gdt_desc:
	.word	4 * 8 - 1
	.long	gdt

/* The reset vector: the last 16 bytes below 4 GiB. */
	.section .reset, "ax"
	.code16
reset_vector:
	jmp	start16
	.balign	16, 0xf4

	.section .note.GNU-stack, "", @progbits
