{{/* Names, labels and the image, in one place for every template. */}}
{{- define "errand.name" -}}{{ .Chart.Name }}{{- end -}}

{{- define "errand.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "errand.labels" -}}
app.kubernetes.io/name: {{ include "errand.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "errand.selector" -}}
app.kubernetes.io/name: {{ include "errand.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "errand.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "errand.workerServiceAccount" -}}{{ include "errand.fullname" . }}-worker{{- end -}}
{{- define "errand.apiServiceAccount" -}}{{ include "errand.fullname" . }}-api{{- end -}}

{{- define "errand.stateClaim" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-state" (include "errand.fullname" .)) -}}
{{- end -}}

{{/* Environment both processes share: the ConfigMap, then each Secret a value points at. */}}
{{- define "errand.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "errand.fullname" . }}
env:
  {{- with .Values.model.apiKey.secretName }}
  - name: ERRAND_MODEL_API_KEY
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.model.apiKey.key }}}}
  {{- end }}
  {{- with .Values.objectStorage.credentialsSecret.name }}
  - name: AWS_ACCESS_KEY_ID
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.objectStorage.credentialsSecret.accessKeyIdKey }}}}
  - name: AWS_SECRET_ACCESS_KEY
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.objectStorage.credentialsSecret.secretAccessKeyKey }}}}
  {{- end }}
  {{- with .Values.temporal.apiKey.secretName }}
  - name: ERRAND_TEMPORAL_API_KEY
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.temporal.apiKey.key }}}}
  {{- end }}
  {{- if eq .Values.forge.kind "github" }}
  {{- with .Values.forge.github.tokenSecret.name }}
  - name: ERRAND_GITHUB_TOKEN
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.forge.github.tokenSecret.key }}}}
  {{- end }}
  {{- with .Values.forge.github.app.privateKeySecret.name }}
  - name: ERRAND_GITHUB_APP_PRIVATE_KEY
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.forge.github.app.privateKeySecret.key }}}}
  {{- end }}
  {{- with .Values.forge.github.webhookSecret.name }}
  - name: ERRAND_GITHUB_WEBHOOK_SECRET
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.forge.github.webhookSecret.key }}}}
  {{- end }}
  {{- end }}
  {{- if .Values.api.tokensSecret.name }}
  - name: ERRAND_API_TOKENS_FILE
    value: /etc/errand/tokens/{{ .Values.api.tokensSecret.key }}
  {{- end }}
  {{- if or .Values.mcp.servers .Values.mcp.repos }}
  - name: ERRAND_MCP_CONFIG
    value: /etc/errand/agent/mcp.json
  {{- end }}
  {{- if .Values.secrets.scopes }}
  - name: ERRAND_SECRETS_FILE
    value: /etc/errand/agent/secrets.json
  {{- end }}
{{- end -}}

{{/* Volumes both processes share: the state volume (none with object storage), a writable /tmp, and Temporal's TLS files. */}}
{{- define "errand.volumes" -}}
- name: state
  {{- if .Values.objectStorage.bucket }}
  emptyDir: {}
  {{- else }}
  persistentVolumeClaim:
    claimName: {{ include "errand.stateClaim" . }}
  {{- end }}
- name: tmp
  emptyDir: {}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.secretName }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.secretName }}
{{- end }}
{{- with .Values.api.tokensSecret.name }}
- name: api-tokens
  secret:
    secretName: {{ . }}
{{- end }}
{{- if or .Values.mcp.servers .Values.mcp.repos .Values.secrets.scopes }}
{{- /* mcp.json and secrets.json next to secrets/<key> from the operator's Secret: secrets.json's `file: secrets/<key>` is relative to its own directory. */}}
- name: agent-config
  projected:
    sources:
      - configMap:
          name: {{ include "errand.fullname" . }}-agent-config
      {{- if .Values.secrets.scopes }}
      - secret:
          name: {{ .Values.secrets.existingSecret }}
          items:
            {{- range include "errand.secretKeys" . | splitList "\n" }}
            - key: {{ . }}
              path: secrets/{{ . }}
            {{- end }}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "errand.volumeMounts" -}}
- name: state
  mountPath: /var/lib/errand
- name: tmp
  mountPath: /tmp
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.secretName }}
- name: temporal-tls
  mountPath: /etc/errand/temporal-tls
  readOnly: true
{{- end }}
{{- if .Values.api.tokensSecret.name }}
- name: api-tokens
  mountPath: /etc/errand/tokens
  readOnly: true
{{- end }}
{{- if or .Values.mcp.servers .Values.mcp.repos .Values.secrets.scopes }}
- name: agent-config
  mountPath: /etc/errand/agent
  readOnly: true
{{- end }}
{{- end -}}

{{- define "errand.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "errand.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* limits.repoTaskLimits as ERRAND_REPO_TASK_LIMITS: glob=N,glob=N (in key order). */}}
{{- define "errand.repoTaskLimits" -}}
{{- $pairs := list -}}
{{- range $glob, $max := . -}}
{{- $pairs = append $pairs (printf "%s=%v" $glob $max) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The keys of secrets.existingSecret that secrets.scopes names (each once, sorted), one a line. */}}
{{- define "errand.secretKeys" -}}
{{- $keys := dict -}}
{{- range $name, $secret := .Values.secrets.scopes -}}
{{- $_ := set $keys ($secret.key | default $name) true -}}
{{- end -}}
{{- keys $keys | sortAlpha | join "\n" -}}
{{- end -}}
