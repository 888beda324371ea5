{{/* Names and labels shared by every template. */}}
{{- define "sgb.name" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "sgb.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The restricted Pod Security Standard: no root, nothing writable but /tmp. */}}
{{- define "sgb.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sgb.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Settings from the ConfigMap, the database URL from its Secret, the keys' folder. */}}
{{- define "sgb.environment" -}}
envFrom:
  - configMapRef:
      name: {{ include "sgb.name" . }}-settings
env:
  - name: SGB_DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.database.secretName }}
        key: {{ .Values.database.secretKey }}
  - name: SGB_KEYS_DIR
    value: /keys
{{- end -}}
