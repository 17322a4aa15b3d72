#include "paging.h"

#define PTE_P   0x1ULL
#define PTE_W   0x2ULL
#define PTE_PWT 0x8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS  0x80ULL
#define GIB     (1ULL << 30)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[PAGING_MAX_GIB][512] __attribute__((aligned(4096)));

uint64_t paging_init(uint64_t end)
{
	uint64_t gib = (end + GIB - 1) / GIB;

	if (gib < 4)
		gib = 4;
	if (gib > PAGING_MAX_GIB)
		gib = PAGING_MAX_GIB;
	for (uint64_t g = 0; g < gib; g++) {
		uint64_t flags = PTE_P | PTE_W | PTE_PS | (g == 3 ? PTE_PCD | PTE_PWT : 0);
		for (uint64_t i = 0; i < 512; i++)
			pd[g][i] = (g * GIB + (i << 21)) | flags;
		pdpt[g] = (uint64_t)(uintptr_t)pd[g] | PTE_P | PTE_W;
	}
	pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W;
	__asm__ volatile("mov %0, %%cr3" : : "r"(paging_cr3()) : "memory");
	return gib * GIB;
}

uint64_t paging_cr3(void)
{
	return (uint64_t)(uintptr_t)pml4;
}
