/* The test firmware's first instructions: KVM starts the boot vCPU in real
 * mode with CS base 0xFFFF0000 and IP 0xFFF0. Build a flat GDT in RAM,
 * enter 32-bit protected mode (segments as the Linux 32-bit boot protocol
 * wants them: code 0x10, data 0x18), set a stack in RAM, clear .bss and
 * call fw_main. The GDT must be in RAM: under the PVM KVM here, a GDT
 * read from the read-only firmware slot hangs the far jump. */

#define SEL_CODE32 0x10
#define SEL_DATA   0x18
#define STACK_TOP  0x70000
#define GDT_RAM    0x500      /* 4 entries, then the 6-byte descriptor */

	/* just below the reset vector, so that a near jump reaches it */
	.section .text16, "ax"
	.code16
start16:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	movl	$0, GDT_RAM
	movl	$0, GDT_RAM + 4
	movl	$0, GDT_RAM + 8
	movl	$0, GDT_RAM + 12
	movl	$0x0000ffff, GDT_RAM + SEL_CODE32	/* flat 32-bit code */
	movl	$0x00cf9a00, GDT_RAM + SEL_CODE32 + 4
	movl	$0x0000ffff, GDT_RAM + SEL_DATA		/* flat data */
	movl	$0x00cf9200, GDT_RAM + SEL_DATA + 4
	movw	$(4 * 8 - 1), GDT_RAM + 32
	movl	$GDT_RAM, GDT_RAM + 34
	lgdtl	GDT_RAM + 32
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

/* The reset vector: the last 16 bytes below 4 GiB. */
	.section .reset, "ax"
	.code16
	.globl	reset_vector
reset_vector:
	jmp	start16
	.balign	16, 0xf4

	.section .note.GNU-stack, "", @progbits
