/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether a command's text and its JSON hold the same fields. The tool
 * writes the path of every field it prints to $PCRAM_OUTPUT_KEYS
 * ("vms/[]/faults/count"); the text's paths are compared with those of
 * the JSON itself, so that a field added to one form alone fails a test.
 */
#ifndef PCRAM_SELFTESTS_OUTPUT_KEYS_H
#define PCRAM_SELFTESTS_OUTPUT_KEYS_H

#include "common.h"

/*
 * Run @text_cmd (its text) and @json_cmd (the same with -j), and leave in
 * @r->out what differs as {"text_only": [...], "json_only": [...]}, less
 * the paths of @json_only (a JSON array: fields that only JSON has, each
 * for a reason the caller says). Returns jq's exit status.
 */
static inline int output_keys_diff(struct cmd_result *r, const char *text_cmd,
				   const char *json_cmd, const char *json_only)
{
	char keys[] = "/tmp/pcram-test-keys.XXXXXX", json[] = "/tmp/pcram-test-json.XXXXXX";
	int kfd = mkstemp(keys), jfd = mkstemp(json), ret;

	if (kfd < 0 || jfd < 0)
		return -1;
	close(kfd);
	close(jfd);
	run(r, "PCRAM_OUTPUT_KEYS=%s %s >/dev/null; %s >%s", keys, text_cmd, json_cmd, json);
	ret = run(r, "jq -c -n --rawfile t %s --slurpfile j %s --argjson only '%s' '"
		  "($t | split(\"\\n\") | map(select(length > 0)) | unique) as $text | "
		  "([$j[0] | paths | map(if type == \"number\" then \"[]\" else . end) "
		  "| join(\"/\")] | unique) as $json | "
		  "{text_only: ($text - $json), json_only: ($json - $text - $only)}'",
		  keys, json, json_only);
	unlink(keys);
	unlink(json);
	r->out[strcspn(r->out, "\n")] = '\0';
	return ret;
}

#define OUTPUT_KEYS_AGREE "{\"text_only\":[],\"json_only\":[]}"

#endif /* PCRAM_SELFTESTS_OUTPUT_KEYS_H */
