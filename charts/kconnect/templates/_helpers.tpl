{{/* The chart's name. */}}
{{- define "kconnect.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, the name of every object it makes. */}}
{{- define "kconnect.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
The operator pods' selector. `app.kubernetes.io/name: kconnect-operator` is what the workers'
NetworkPolicy lets reach their REST port (builders.DEFAULT_OPERATOR_LABELS): keep it.
*/}}
{{- define "kconnect.selectorLabels" -}}
app.kubernetes.io/name: kconnect-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kconnect.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kconnect.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: kconnect
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kconnect.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kconnect.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kconnect.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kconnect.workerImage" -}}
{{- printf "%s:%s" .Values.workerImage.repository (default .Chart.AppVersion .Values.workerImage.tag) -}}
{{- end -}}

{{- define "kconnect.leaseName" -}}
{{- default (include "kconnect.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The rules the operator needs in every namespace it serves (see docs/helm.md). */}}
{{- define "kconnect.namespacedRules" -}}
# Its own resources: kopf watches them, patches their annotations, finalizers and status.
- apiGroups: ["kconnect.io"]
  resources: ["kafkaconnectors", "standaloneconnects", "kconnectclusters"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["kconnect.io"]
  resources: ["kafkaconnectors/status", "standaloneconnects/status", "kconnectclusters/status"]
  verbs: ["get", "patch", "update"]
# Owner references with blockOwnerDeletion on children need this where
# OwnerReferencesPermissionEnforcement is on.
- apiGroups: ["kconnect.io"]
  resources: ["kafkaconnectors/finalizers", "standaloneconnects/finalizers", "kconnectclusters/finalizers"]
  verbs: ["update"]
# Children, applied with server-side apply and deleted on a Delete deletionPolicy.
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Referenced Secrets: only `get`, by the name a resource references, for the pod template's
# hash (their resourceVersion; the data is never used). Never listed, watched or written.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Worker pods: their readiness and IPs (the REST endpoints).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# A scale-down writes a marker file into each worker pod it removes (through exec), so that the
# pod's preStop hook makes its worker leave the Kafka group and its tasks move at once.
# WebSocket exec is a GET upgraded to a stream; newer API servers check `create` on it too.
- apiGroups: [""]
  resources: ["pods/exec"]
  verbs: ["get", "create"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
