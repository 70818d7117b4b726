/* `vigil-agent vm` (agent/vm.h):
 *
 *   vigil-agent vm start VMID [--firmware F --kernel F [--cmdline S]]
 *   vigil-agent vm stop VMID
 *   vigil-agent vm list
 *   common options: --vtpm-dir DIR   (default $VIGIL_VTPM_DIR, else
 *                                     /var/lib/vigil/vtpm)
 *                   --pse-socket S   (default $VIGIL_PSE_SOCKET, else
 *                                     /run/vigil/psed.sock)
 *
 * start creates the VM's vTPM in DIR/VMID the first time (its EK
 * certificate issued by the local vigil-psed) and starts it otherwise;
 * with --firmware and --kernel it then boots the guest (the vTPM's PCRs
 * extended, DIR/VMID/guest.evlog written). It prints
 * "vm VMID running TCTI". stop stops the vTPM (its state is kept). list
 * prints "VMID running|stopped [TCTI]" per VM. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enclave/pse_msg.h"
#include "err.h"
#include "log.h"
#include "vm.h"
#include "vmlink.h"
#include "vtpm.h"

struct vm_opts {
	const char *root, *pse, *firmware, *kernel, *cmdline;
	const char *config, *to;	/* vmlink.h: enrolment, migration */
};

static void
vm_usage(FILE *f)
{
	fputs("usage: vigil-agent vm start VMID [--firmware F --kernel F "
	    "[--cmdline S]]\n"
	    "       vigil-agent vm stop VMID\n"
	    "       vigil-agent vm list\n"
	    "       vigil-agent vm migrate VMID --to NODE\n"
	    "  --config F       the agent's config: start also enrols the "
	    "vTPM with the\n"
	    "                   verifier (default $VIGIL_AGENT_CONFIG; "
	    "migrate needs one)\n"
	    "  --vtpm-dir DIR   vTPM directories (default $VIGIL_VTPM_DIR or "
	    "/var/lib/vigil/vtpm)\n"
	    "  --pse-socket S   vigil-psed's socket (default "
	    "$VIGIL_PSE_SOCKET or /run/vigil/psed.sock)\n", f);
}

static int
vm_dir(const struct vm_opts *o, const char *vm, char *out)
{
	if (!pse_msg_id_valid((const uint8_t *)vm, strlen(vm))) {
		fprintf(stderr, "vigil-agent vm: bad VM id \"%s\"\n", vm);
		return VIGIL_EINVAL;
	}
	if (snprintf(out, VTPM_MAX_PATH, "%s/%s", o->root, vm) >=
	    (int)VTPM_MAX_PATH)
		return VIGIL_EINVAL;
	return 0;
}

static int
vm_start(const struct vm_opts *o, const char *vm)
{
	struct vtpm_guest g = { o->firmware, o->kernel, o->cmdline };
	struct vtpm_status st;
	char dir[VTPM_MAX_PATH];
	int e;

	if ((e = vm_dir(o, vm, dir)) != 0)
		return e;
	if (access(dir, F_OK) != 0)
		e = vtpm_create(vm, dir, o->pse);
	else
		e = vtpm_start(dir);
	if (e != 0)
		return e;
	if (o->firmware != NULL && ((e = vtpm_boot(dir, &g)) != 0 ||
	    (e = vmlink_guest_save(dir, &g)) != 0))
		return e;
	if (o->config != NULL &&
	    (e = vmlink_enrol(o->config, vm, dir, o->pse)) != 0)
		return e;
	vtpm_status(dir, &st);
	printf("vm %s running %s%s\n", vm, st.tcti,
	    o->config != NULL ? " enrolled" : "");
	return 0;
}

static int
vm_list(const struct vm_opts *o)
{
	char dir[VTPM_MAX_PATH];
	struct vtpm_status st;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(o->root)) == NULL) {
		log_err("vm: cannot open %s", o->root);
		return VIGIL_ENOTFOUND;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !pse_msg_id_valid((const uint8_t *)de->d_name,
		    strlen(de->d_name)) ||
		    snprintf(dir, sizeof(dir), "%s/%s", o->root, de->d_name) >=
		    (int)sizeof(dir))
			continue;
		vtpm_status(dir, &st);
		printf("%s %s%s%s\n", de->d_name,
		    st.running ? "running" : "stopped", st.running ? " " : "",
		    st.running ? st.tcti : "");
	}
	closedir(d);
	return 0;
}

int
vm_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vtpm-dir", required_argument, NULL, 'd' },
		{ "pse-socket", required_argument, NULL, 's' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'C' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_opts o;
	const char *cmd;
	char dir[VTPM_MAX_PATH];
	int c, e;

	memset(&o, 0, sizeof(o));
	o.root = getenv("VIGIL_VTPM_DIR") ? getenv("VIGIL_VTPM_DIR") :
	    "/var/lib/vigil/vtpm";
	o.pse = getenv("VIGIL_PSE_SOCKET") ? getenv("VIGIL_PSE_SOCKET") :
	    "/run/vigil/psed.sock";
	if (argc < 2) {
		vm_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argv++;
	argc--;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.root = optarg; break;
		case 's': o.pse = optarg; break;
		case 'f': o.firmware = optarg; break;
		case 'k': o.kernel = optarg; break;
		case 'c': o.cmdline = optarg; break;
		case 'C': o.config = optarg; break;
		case 't': o.to = optarg; break;
		case 'h': vm_usage(stdout); return 0;
		default: vm_usage(stderr); return 2;
		}
	}
	if ((o.firmware == NULL) != (o.kernel == NULL) ||
	    (o.cmdline != NULL && o.firmware == NULL)) {
		fprintf(stderr, "vigil-agent vm: --firmware and --kernel go "
		    "together\n");
		return 2;
	}
	if (o.config == NULL && getenv("VIGIL_AGENT_CONFIG") != NULL &&
	    getenv("VIGIL_AGENT_CONFIG")[0] != '\0')
		o.config = getenv("VIGIL_AGENT_CONFIG");
	if (strcmp(cmd, "migrate") == 0 && optind + 1 == argc &&
	    o.to != NULL && o.firmware == NULL) {
		if ((e = vm_dir(&o, argv[optind], dir)) == 0)
			e = vmlink_migrate(o.config, argv[optind], dir, o.to,
			    120);
	} else if (strcmp(cmd, "list") == 0 && optind == argc)
		e = vm_list(&o);
	else if (strcmp(cmd, "start") == 0 && optind + 1 == argc)
		e = vm_start(&o, argv[optind]);
	else if (strcmp(cmd, "stop") == 0 && optind + 1 == argc &&
	    o.firmware == NULL) {
		if ((e = vm_dir(&o, argv[optind], dir)) == 0 &&
		    (e = vtpm_stop(dir)) == 0)
			printf("vm %s stopped\n", argv[optind]);
	} else {
		vm_usage(stderr);
		return 2;
	}
	if (e != 0) {
		fprintf(stderr, "vigil-agent vm %s: failed: %s\n", cmd,
		    vigil_strerror(e));
		return 1;
	}
	return 0;
}
