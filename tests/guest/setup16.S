/* Real-mode setup sectors of the bzImage: the boot protocol 2.15 header
 * (mkbzimage.py fills in the sizes) and a stub for loaders that enter at
 * setup+0x200 in real mode (QEMU): like Linux's own setup code it builds a
 * zero page apart from these sectors (at setup+0x1000: the e820 table at
 * 0x2d0 would overwrite this code), copies the header into it, asks the
 * BIOS for the e820 map, and jumps to code32_start in protected mode with
 * %esi = zero page. Linked at 0. */

	.code16
	.section .text, "ax"
	.globl _start
_start:
	.org	0x1f1
setup_sects:	.byte 0
root_flags:	.word 0
syssize:	.long 0
ram_size:	.word 0
vid_mode:	.word 0xffff
root_dev:	.word 0
boot_flag:	.word 0xaa55
	.org	0x200
	jmp	start16
	.ascii	"HdrS"
	.word	0x020f			/* protocol 2.15 */
realmode_swtch:	.long 0
start_sys_seg:	.word 0
kernel_version:	.word 0
type_of_loader:	.byte 0
loadflags:	.byte 0x81		/* LOADED_HIGH | CAN_USE_HEAP */
setup_move_size: .word 0
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000
relocatable_kernel: .byte 0
min_alignment:	.byte 21
xloadflags:	.word 1			/* XLF_KERNEL_64 */
cmdline_size:	.long 0xffff
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
pref_address:	.quad 0x1000000
init_size:	.long 0
handover_offset: .long 0
kernel_info_offset: .long 0

#define ZP           0x1000
#define HDR_START    0x1f1
#define HDR_END      0x270
#define E820_ENTRIES (ZP + 0x1e8)
#define E820_TABLE   (ZP + 0x2d0)
#define E820_MAX     128
#define SMAP         0x534d4150

start16:
	cli
	cld
	movw	%ds, %ax
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0xe000, %sp
	sti

	movw	$ZP, %di
	movw	$0x1000, %cx
	xorb	%al, %al
	rep stosb
	movw	$HDR_START, %si
	movw	$(ZP + HDR_START), %di
	movw	$(HDR_END - HDR_START), %cx
	rep movsb

	xorl	%ebx, %ebx
	movw	$E820_TABLE, %di
	xorw	%bp, %bp
1:	movl	$0xe820, %eax
	movl	$20, %ecx
	movl	$SMAP, %edx
	int	$0x15
	jc	2f
	cmpl	$SMAP, %eax
	jne	2f
	incw	%bp
	addw	$20, %di
	testl	%ebx, %ebx
	jz	2f
	cmpw	$E820_MAX, %bp
	jb	1b
2:	movw	%bp, %ax
	movb	%al, E820_ENTRIES

	cli
	xorl	%esi, %esi
	movw	%ds, %si
	shll	$4, %esi
	leal	gdt(%esi), %eax
	addl	$ZP, %esi
	movl	%eax, gdt_desc + 2
	movl	code32_start, %eax
	movl	%eax, far_ptr
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	*far_ptr

	.balign 8
gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: __BOOT_CS */
	.quad	0x00cf92000000ffff	/* 0x18: __BOOT_DS */
gdt_desc:
	.word	4 * 8 - 1
	.long	0
far_ptr:
	.long	0
	.word	0x10
	.balign	512
	.section .note.GNU-stack, "", @progbits
