/* The floor for "process start to guest power-off" on this host: a bare
 * KVM program with no device model. It creates a VM with one vCPU and
 * --memory bytes of untouched MAP_NORESERVE RAM, runs a three-instruction
 * real-mode guest to its first `out` (to port 0x600, like alioth's sleep
 * register) and exits. Flags add, one by one, what a real VMM also does,
 * so that each step's price can be read from the benchmark:
 *   --irqchip   KVM_CREATE_IRQCHIP       --pit     KVM_CREATE_PIT2
 *   --split-irqchip  KVM_CAP_SPLIT_IRQCHIP (only the LAPIC in the kernel;
 *               what Rust Alioth does)
 *   --thread    run the vCPU on its own thread (alioth's layout)
 *   --memory-first  register guest RAM before creating the irqchip/PIT
 *   --close     tear the VM down (munmap kvm_run, close fds) before exiting,
 *               so that --phases shows what the teardown costs
 *   --exits N   first make N port-I/O exits (out to port 0x80), to price
 *               one round trip guest -> KVM -> this program -> guest
 *   --phases    print per-phase microseconds on stderr */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct opts {
	uint64_t mem_size;
	unsigned exits;
	int irqchip, split_irqchip, pit, thread, close_fds, phases, memory_first;
};

struct vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	int exit_port;
};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void phase(const struct opts *o, const char *name, double *t)
{
	double n = now_us();
	if (o->phases)
		fprintf(stderr, "%-14s %8.0f us\n", name, n - *t);
	*t = n;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);
	switch (*end) {
	case 'G': case 'g': return v << 30;
	case 'M': case 'm': return v << 20;
	case 'K': case 'k': return v << 10;
	default: return v;
	}
}

static struct opts parse_opts(int argc, char **argv)
{
	struct opts o = { .mem_size = 256ULL << 20 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--irqchip")) o.irqchip = 1;
		else if (!strcmp(argv[i], "--pit")) o.pit = 1;
		else if (!strcmp(argv[i], "--split-irqchip")) o.split_irqchip = 1;
		else if (!strcmp(argv[i], "--thread")) o.thread = 1;
		else if (!strcmp(argv[i], "--close")) o.close_fds = 1;
		else if (!strcmp(argv[i], "--memory-first")) o.memory_first = 1;
		else if (!strcmp(argv[i], "--phases")) o.phases = 1;
		else if (!strcmp(argv[i], "--exits") && i + 1 < argc && atoi(argv[i + 1]) < 65536)
			o.exits = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--memory") && i + 1 < argc) o.mem_size = parse_size(argv[++i]);
		else {
			fprintf(stderr, "usage: kvm-floor [--memory SIZE] [--irqchip | --split-irqchip] [--pit] "
				"[--thread] [--memory-first] [--exits N] [--close] [--phases]\n");
			exit(2);
		}
	}
	return o;
}

static void create_vm(struct vm *v, const struct opts *o, double *t)
{
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		die("open /dev/kvm");
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0)
		die("KVM_CREATE_VM");
	phase(o, "create_vm", t);
}

static void add_devices(struct vm *v, const struct opts *o, double *t)
{
	if (o->irqchip && ioctl(v->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
	if (o->split_irqchip && ioctl(v->vm, KVM_ENABLE_CAP, &split) < 0)
		die("KVM_CAP_SPLIT_IRQCHIP");
	phase(o, "irqchip", t);
	struct kvm_pit_config pit = { 0 };
	if (o->pit && ioctl(v->vm, KVM_CREATE_PIT2, &pit) < 0)
		die("KVM_CREATE_PIT2");
	phase(o, "pit", t);
}

static void add_memory(struct vm *v, const struct opts *o, double *t)
{
	/* real mode at 0x1000: mov al,0x34; mov dx,0x600; out dx,al; hlt */
	static const uint8_t code[] = { 0xb0, 0x34, 0xba, 0x00, 0x06, 0xee, 0xf4 };
	/* before it, with --exits: mov cx,N; 1: out 0x80,al; loop 1b */
	uint8_t loop[] = { 0xb9, (uint8_t)o->exits, (uint8_t)(o->exits >> 8), 0xe6, 0x80, 0xe2, 0xfc };
	size_t at = o->exits ? sizeof(loop) : 0;
	uint8_t *mem = mmap(NULL, o->mem_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(mem + 0x1000, loop, at);
	memcpy(mem + 0x1000 + at, code, sizeof(code));
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = o->mem_size,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	phase(o, "memory", t);
}

static void create_vcpu(struct vm *v, const struct opts *o, double *t)
{
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		die("KVM_CREATE_VCPU");
	v->run_size = (size_t)ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.base = 0, sregs.cs.selector = 0;
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
	phase(o, "vcpu", t);
}

static void *run_vcpu(void *arg)
{
	struct vm *v = arg;
	for (;;) {
		if (ioctl(v->vcpu, KVM_RUN, 0) < 0 && errno != EINTR)
			die("KVM_RUN");
		if (v->run->exit_reason == KVM_EXIT_IO && v->run->io.direction == KVM_EXIT_IO_OUT &&
		    v->run->io.port != 0x80) {
			v->exit_port = v->run->io.port;
			return NULL;
		}
		if (v->run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "kvm-floor: unexpected exit %u\n", v->run->exit_reason);
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o = parse_opts(argc, argv);
	struct vm v = { 0 };
	double t = now_us();

	create_vm(&v, &o, &t);
	if (o.memory_first) {
		add_memory(&v, &o, &t);
		add_devices(&v, &o, &t);
	} else {
		add_devices(&v, &o, &t);
		add_memory(&v, &o, &t);
	}
	create_vcpu(&v, &o, &t);
	if (o.thread) {
		pthread_t th;
		if (pthread_create(&th, NULL, run_vcpu, &v) || pthread_join(th, NULL))
			die("vCPU thread");
	} else {
		run_vcpu(&v);
	}
	phase(&o, "run", &t);
	if (v.exit_port != 0x600) {
		fprintf(stderr, "kvm-floor: guest wrote port 0x%x, not 0x600\n", v.exit_port);
		return 1;
	}
	if (o.close_fds) {
		munmap(v.run, v.run_size);
		close(v.vcpu);
		close(v.vm);
		close(v.kvm);
		phase(&o, "close", &t);
	}
	return 0;
}
