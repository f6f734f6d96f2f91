{{/* Chart name, truncated to a DNS label. */}}
{{- define "cachetier-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name used for every object; the release name alone if it already contains the chart name. */}}
{{- define "cachetier-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cachetier-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator pods; never change them (Deployment selectors are immutable). */}}
{{- define "cachetier-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cachetier-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cachetier-operator.labels" -}}
helm.sh/chart: {{ include "cachetier-operator.chart" . }}
{{ include "cachetier-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: cachetier
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cachetier-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cachetier-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cachetier-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Metrics only render when enabled; the ServiceMonitor also needs the Prometheus Operator CRD. */}}
{{- define "cachetier-operator.serviceMonitorEnabled" -}}
{{- if and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") }}true{{- end }}
{{- end }}

{{/* The alerts need the Prometheus Operator's PrometheusRule CRD as well as the value. */}}
{{- define "cachetier-operator.prometheusRuleEnabled" -}}
{{- if and .Values.prometheusRule.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule") }}true{{- end }}
{{- end }}

{{/*
The operator's grants. Every one is namespaced: a ClusterRole carries them when all namespaces
are watched, a Role in each watched namespace otherwise.
*/}}
{{- define "cachetier-operator.rules" -}}
- apiGroups: ["cachetier.io"]
  resources: ["cachetiers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["cachetier.io"]
  resources: ["cachetiers/status"]
  verbs: ["patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  # delete (propagation Orphan, pods keep running): re-create a StatefulSet with grown claim templates.
  verbs: ["delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  # list + patch: raise the PVCs' storage requests for a volume expansion.
  verbs: ["list", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch", "delete"]
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PodMonitor" }}
# Only with the Prometheus Operator's PodMonitor CRD (the operator renders PodMonitors only then;
# `helm template` needs --api-versions monitoring.coreos.com/v1/PodMonitor).
- apiGroups: ["monitoring.coreos.com"]
  resources: ["podmonitors"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}
- apiGroups: [""]
  resources: ["pods"]
  # delete: the operator rolls ZooKeeper, Kafka and Redis pods itself (StatefulSets on OnDelete).
  verbs: ["list", "watch", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  # get: spec.redis.auth's Secret; create/patch: the Redis passwords Secret (created once) and
  # the rendered Redis ACL Secret.
  verbs: ["get", "create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{- /* Cluster-scoped and read-only: whether a claim's StorageClass allows volume expansion. */}}
{{- define "cachetier-operator.clusterScopedRules" -}}
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["list"]
{{- end }}
